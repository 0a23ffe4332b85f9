/**
 * Node tokens (§2.5, §6.3): 32 random bytes as 64 hex, issued at every register, persisted only as
 * a salted scrypt hash (DIR-REG-07). scrypt runs on the libuv pool so it never blocks the event
 * loop. A token known to be current is remembered as its SHA-256 digest, so heartbeats compare
 * digests instead of paying for scrypt; the slow hash is checked only when nothing is remembered
 * (after a restart), and only when the caller admits it, so unknown wrong tokens cannot queue
 * scrypt runs without bound (the directory's budget is in auth).
 */
import { createHash, randomBytes, scrypt, timingSafeEqual } from "node:crypto"
import { Effect } from "effect"
import {
  NODE_TOKEN_BYTES,
  TOKEN_HASH_BYTES,
  TOKEN_HASH_SALT_BYTES,
  TOKEN_HASH_SCRYPT_N,
  TOKEN_HASH_SCRYPT_P,
  TOKEN_HASH_SCRYPT_R
} from "../constants.js"

const SCRYPT_OPTIONS = {
  N: TOKEN_HASH_SCRYPT_N,
  r: TOKEN_HASH_SCRYPT_R,
  p: TOKEN_HASH_SCRYPT_P,
  // 128·N·r bytes are needed; the default cap (32 MiB) is exactly that and refuses it.
  maxmem: 256 * TOKEN_HASH_SCRYPT_N * TOKEN_HASH_SCRYPT_R
}

/** Derives the slow hash of a secret under a salt; injectable so tests can count its runs. */
export type SlowHash = (secret: string, salt: Buffer) => Effect.Effect<Buffer>

/** scrypt with the §6.3 parameters, on the libuv pool. */
export const scryptHash: SlowHash = (secret, salt) =>
  Effect.async<Buffer>((resume) => {
    scrypt(secret, salt, TOKEN_HASH_BYTES, SCRYPT_OPTIONS, (error, key) =>
      resume(error ? Effect.die(error) : Effect.succeed(key))
    )
  })

const sha256 = (text: string): Buffer => createHash("sha256").update(text).digest()

/** A fresh node token: 64 lowercase hex characters. */
export const newNodeToken = (): string => randomBytes(NODE_TOKEN_BYTES).toString("hex")

/** The stored form of a token: `scrypt$<salt hex>$<hash hex>`. */
export const hashToken = (token: string): Effect.Effect<string> => {
  const salt = randomBytes(TOKEN_HASH_SALT_BYTES)
  return Effect.map(scryptHash(token, salt), (hash) => `scrypt$${salt.toString("hex")}$${hash.toString("hex")}`)
}

/** Whether `token` matches a stored hash (constant-time). A malformed stored hash matches nothing. */
const tokenMatchesHash = (token: string, stored: string, slowHash: SlowHash): Effect.Effect<boolean> => {
  const [scheme, saltHex, hashHex] = stored.split("$")
  if (scheme !== "scrypt" || !saltHex || !hashHex) return Effect.succeed(false)
  const expected = Buffer.from(hashHex, "hex")
  return Effect.map(slowHash(token, Buffer.from(saltHex, "hex")), (actual) => actual.length === expected.length && timingSafeEqual(actual, expected))
}

/** Remembers the current token of each node as a SHA-256 digest, in memory only. */
export interface TokenVerifier {
  /** Records the token just issued to a node under its stored hash (the previous token dies at once). */
  readonly remember: (nodeId: string, token: string, storedHash: string) => void
  readonly forget: (nodeId: string) => void
  /**
   * Whether `token` is the node's current token, given the stored hash of that token. When no
   * digest is remembered for that hash, `admitSlowCheck` runs first and may refuse the slow hash.
   */
  readonly verify: <E>(nodeId: string, token: string, storedHash: string, admitSlowCheck: Effect.Effect<void, E>) => Effect.Effect<boolean, E>
}

/** A verifier with an in-memory digest cache, checking unremembered tokens with `slowHash` (scrypt by default). */
export const createTokenVerifier = (slowHash: SlowHash = scryptHash): TokenVerifier => {
  const digests = new Map<string, { readonly hash: string; readonly digest: Buffer }>()
  return {
    remember: (nodeId, token, storedHash) => {
      digests.set(nodeId, { hash: storedHash, digest: sha256(token) })
    },
    forget: (nodeId) => digests.delete(nodeId),
    verify: (nodeId, token, storedHash, admitSlowCheck) => {
      if (token.length === 0) return Effect.succeed(false)
      const cached = digests.get(nodeId)
      // A digest is trusted only for the hash it was made under, so a token rotated by another
      // directory instance sharing the store is checked against the stored hash again.
      if (cached?.hash === storedHash) return Effect.succeed(timingSafeEqual(cached.digest, sha256(token)))
      return admitSlowCheck.pipe(
        Effect.zipRight(tokenMatchesHash(token, storedHash, slowHash)),
        Effect.map((ok) => {
          if (ok) digests.set(nodeId, { hash: storedHash, digest: sha256(token) })
          return ok
        })
      )
    }
  }
}
