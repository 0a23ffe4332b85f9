import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { DIRECTORY_RATE_MAX_KEYS } from "../../src/constants.js"
import { isPublicAddress } from "../../src/directory/address-guard.js"
import { createRateLimiter } from "../../src/directory/rate-limit.js"
import { applyOutcomes } from "../../src/directory/reputation.js"
import { availabilityTerm, roundScore, scoreNode } from "../../src/directory/scoring.js"
import { seededNode } from "./helpers.js"

const unit = fc.double({ min: 0, max: 1, noNaN: true })

const arbitraryNode = fc.record({
  load: fc.option(fc.double({ min: -1, max: 3, noNaN: true }), { nil: undefined }),
  active_jobs: fc.option(fc.nat(100), { nil: undefined }),
  max_concurrent: fc.nat(64),
  reputation: unit,
  multiplier: fc.option(fc.double({ min: 0, max: 1000, noNaN: true }), { nil: undefined }),
  share: fc.option(unit, { nil: undefined })
})

type GeneratedNode = typeof arbitraryNode extends fc.Arbitrary<infer T> ? T : never

const nodeOf = (n: GeneratedNode, region = "eu") =>
  seededNode("n", 0, {
    region,
    max_concurrent: n.max_concurrent,
    reputation: n.reputation,
    ...(n.load === undefined ? {} : { load: Math.min(1, Math.max(0, n.load)) }),
    ...(n.active_jobs === undefined ? {} : { active_jobs: n.active_jobs }),
    ...(n.multiplier === undefined ? {} : { pricing: { credit_cost_multiplier: n.multiplier, pricing_model: "flat" as const } }),
    ...(n.share === undefined ? {} : { availability: [{ start: "00:00", end: "12:00", share: n.share }] })
  })

describe("ADR-008 scoring (property tests)", () => {
  it("every score is within [0, 1], with or without a model", () => {
    fc.assert(
      fc.property(arbitraryNode, fc.option(fc.constantFrom("eu", "us"), { nil: undefined }), fc.boolean(), fc.nat(86_400_000), (n, region, model, now) => {
        const score = scoreNode(nodeOf(n), ["m"], { ...(region ? { region } : {}), ...(model ? { model: "m" } : {}) }, now)
        expect(score).toBeGreaterThanOrEqual(0)
        expect(score).toBeLessThanOrEqual(1 + 1e-12)
      })
    )
  })

  it("DIR-DISC-06: a region match never scores below an otherwise equal non-match", () => {
    fc.assert(
      fc.property(arbitraryNode, fc.boolean(), (n, model) => {
        const query = { region: "eu", ...(model ? { model: "m" } : {}) }
        expect(scoreNode(nodeOf(n, "eu"), ["m"], query, 0)).toBeGreaterThanOrEqual(scoreNode(nodeOf(n, "us"), ["m"], query, 0))
      })
    )
  })

  it("more reputation never lowers the score", () => {
    fc.assert(
      fc.property(arbitraryNode, unit, (n, extra) => {
        const better = { ...n, reputation: Math.min(1, n.reputation + extra) }
        expect(scoreNode(nodeOf(better), [], {}, 0)).toBeGreaterThanOrEqual(scoreNode(nodeOf(n), [], {}, 0))
      })
    )
  })

  it("availability windows wrap midnight and fall back to 0.5 outside", () => {
    const overnight = [{ start: "22:00", end: "02:00", share: 0.3 }]
    expect(availabilityTerm(overnight, 23 * 3_600_000)).toBe(0.3)
    expect(availabilityTerm(overnight, 3_600_000)).toBe(0.3)
    expect(availabilityTerm(overnight, 12 * 3_600_000)).toBe(0.5)
    expect(availabilityTerm(undefined, 0)).toBe(1)
    expect(roundScore(0.90499999)).toBe(0.905)
  })
})

describe("outcome-v2 reputation (property tests)", () => {
  it("stays in [0, 1] and gains at most 0.10 per beat and 0.20 per hour", () => {
    const beat = fc.record({ successes: fc.nat(500), failures: fc.nat(5), timeouts: fc.nat(5), gapMs: fc.nat(4_000_000) })
    fc.assert(
      fc.property(fc.array(beat, { maxLength: 40 }), (beats) => {
        let state = { reputation: 0.5, reputation_window_start_ms: 0, reputation_window_gain: 0 }
        let now = 0
        for (const b of beats) {
          now += b.gapMs
          const next = applyOutcomes(state, b, now)
          expect(next.reputation).toBeGreaterThanOrEqual(0)
          expect(next.reputation).toBeLessThanOrEqual(1)
          expect(next.reputation - state.reputation).toBeLessThanOrEqual(0.1 + 1e-12)
          expect(next.reputation_window_gain).toBeLessThanOrEqual(0.2 + 1e-12)
          state = next
        }
      })
    )
  })
})

describe("rolling-window rate limiter (property test)", () => {
  it("never allows more than `limit` events in any window, and the retry hint lands exactly when a slot frees", () => {
    fc.assert(
      fc.property(fc.array(fc.nat(5_000), { minLength: 1, maxLength: 300 }), (gaps) => {
        const limiter = createRateLimiter({ limit: 5, windowMs: 10_000 })
        const allowed: Array<number> = []
        let now = 0
        for (const [i, gap] of gaps.entries()) {
          now += gap
          const decision = limiter.take("k", now)
          if (decision.allowed) allowed.push(now)
          else {
            expect(decision.retryAfterMs).toBeGreaterThan(0)
            // Another key is not held back by this one (a fresh key each time: probes count too).
            expect(limiter.take(`probe-${i}`, now).allowed).toBe(true)
          }
          expect(allowed.filter((t) => t > now - 10_000).length).toBeLessThanOrEqual(5)
        }
      })
    )
    const limiter = createRateLimiter({ limit: 1, windowMs: 1_000 })
    limiter.take("k", 0)
    const refused = limiter.take("k", 400)
    expect(refused).toEqual({ allowed: false, retryAfterMs: 600 })
    expect(limiter.take("k", 999).allowed).toBe(false)
    expect(limiter.take("k", 1_000).allowed).toBe(true)
  })

  it("tracks at most maxKeys keys, forgetting the one counted least recently", () => {
    const limiter = createRateLimiter({ limit: 1, windowMs: 60_000, maxKeys: 3 })
    for (const key of ["a", "b", "c"]) expect(limiter.take(key, 0).allowed).toBe(true)
    // A refused event is not counted, so "a" stays the least recently counted key.
    expect(limiter.take("a", 1).allowed).toBe(false)
    expect(limiter.take("d", 2).allowed).toBe(true)
    expect(limiter.take("c", 3).allowed).toBe(false)
    expect(limiter.take("a", 4).allowed).toBe(true)
    expect(limiter.take("b", 5).allowed).toBe(true)
    expect(limiter.take("d", 6).allowed).toBe(false)
  })

  it(`a spray of addresses leaves at most ${DIRECTORY_RATE_MAX_KEYS} keys tracked (the default), the newest`, () => {
    const limiter = createRateLimiter({ limit: 1, windowMs: 60_000 })
    const sprayed = 3 * DIRECTORY_RATE_MAX_KEYS
    let allowed = 0
    for (let i = 0; i < sprayed; i++) if (limiter.take(`10.0.${i}`, 0).allowed) allowed++
    expect(allowed).toBe(sprayed)
    // Newest first, a tracked key is refused (and left as it is) until the first forgotten one.
    let tracked = 0
    while (!limiter.take(`10.0.${sprayed - 1 - tracked}`, 1).allowed) tracked++
    expect(tracked).toBeLessThanOrEqual(DIRECTORY_RATE_MAX_KEYS)
    expect(tracked).toBeGreaterThan(DIRECTORY_RATE_MAX_KEYS / 2)
    expect(limiter.take("10.0.0", 1).allowed).toBe(true)
  })
})

describe("routability guard (§6.10)", () => {
  const production = { documentationRangesPublic: false }
  const local = { documentationRangesPublic: true }
  it.each([
    "0.1.2.3", "10.0.0.1", "100.64.0.1", "127.0.0.1", "169.254.1.1", "172.16.0.1", "192.0.0.8", "192.168.0.1", "198.18.0.1",
    "224.0.0.1", "240.0.0.1", "::", "::1", "fc00::1", "fe80::1", "ff02::1", "::ffff:10.0.0.1", "64:ff9b::a00:1", "not-an-ip"
  ])("%s is never public", (ip) => {
    expect(isPublicAddress(ip, production)).toBe(false)
    expect(isPublicAddress(ip, local)).toBe(false)
  })
  it.each(["192.0.2.1", "198.51.100.1", "203.0.113.1", "2001:db8::1"])("documentation range %s is public only in local mode", (ip) => {
    expect(isPublicAddress(ip, production)).toBe(false)
    expect(isPublicAddress(ip, local)).toBe(true)
  })
  it.each(["8.8.8.8", "2606:4700::1111", "::ffff:8.8.8.8", "64:ff9b::808:808"])("%s is public", (ip) => {
    expect(isPublicAddress(ip, production)).toBe(true)
  })
})
