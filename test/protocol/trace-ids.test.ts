import { readFileSync } from "node:fs"
import { describe, expect, it } from "vitest"
import { isUuid, isUuidV4, isValidNodeId, newTaskId } from "../../src/protocol/ids.js"
import { isValidTraceparent, newTraceparent } from "../../src/protocol/trace.js"

const vectors = JSON.parse(readFileSync(new URL("../../specs/wire-vectors.json", import.meta.url), "utf8"))

describe("traceparent (WIRE §2.3)", () => {
  it("emits 00-<32 hex>-<16 hex>-01 with non-zero random ids", () => {
    const seen = new Set<string>()
    for (let i = 0; i < 200; i++) {
      const value = newTraceparent()
      expect(value).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/)
      expect(isValidTraceparent(value)).toBe(true)
      seen.add(value)
    }
    expect(seen.size).toBe(200)
  })
  it.each(vectors.traceparent.valid as string[])("accepts %s", (v) => expect(isValidTraceparent(v)).toBe(true))
  it.each(vectors.traceparent.invalid as unknown[])("ignores %j", (v) => expect(isValidTraceparent(v)).toBe(false))
})

describe("identifiers (WIRE §2.2, §2.4)", () => {
  it("task ids are lowercase UUIDv4", () => {
    for (let i = 0; i < 100; i++) expect(isUuidV4(newTaskId())).toBe(true)
  })
  it("nodes accept any RFC 4122 UUID in any case", () => {
    expect(isUuid("0F8FAD5B-D9CB-169F-A165-70867728950E")).toBe(true)
    expect(isUuid("not-a-uuid")).toBe(false)
    expect(isUuidV4("0F8FAD5B-D9CB-469F-A165-70867728950E")).toBe(false)
  })
  it("custom node ids follow the §2.4 pattern", () => {
    expect(isValidNodeId("worker-001")).toBe(true)
    expect(isValidNodeId("relay.a:1")).toBe(true)
    expect(isValidNodeId("-leading-dash")).toBe(false)
    expect(isValidNodeId("x".repeat(37))).toBe(false)
  })
})

describe("package version", () => {
  it("the version the runtime reports is package.json's", async () => {
    const { PACKAGE_VERSION } = await import("../../src/constants.js")
    const pkg = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8"))
    expect(PACKAGE_VERSION).toBe(pkg.version)
  })
})
