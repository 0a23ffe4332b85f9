/** Effect services and layers of the directory role. */
export { Directory, makeDirectory, storeLayerFor } from "./service.js"
export { DirectoryStore } from "./store/types.js"
export type { AddressRow, DirectoryStoreApi, NodeRecord, StoredCapability } from "./store/types.js"
export { createMemoryStore, memoryStoreLayer } from "./store/memory.js"
export { fileStoreLayer, openFileStore } from "./store/file.js"
export { DirectoryRefusal, DirectoryStartError } from "./errors.js"
export type { DirectoryConfig, DirectoryMode, DirectoryOptions, LivenessMode } from "./config.js"
export type { RunningDirectory } from "./server.js"
