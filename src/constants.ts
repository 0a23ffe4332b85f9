/**
 * Every protocol default, as a named constant with its unit in the name.
 * Values follow WIRE.md; the section is given beside each group.
 */

/** This package's version (test/protocol checks it against package.json). */
export const PACKAGE_VERSION = "0.1.0"

// §1.1 ports
export const DEFAULT_NODE_HTTP_PORT = 8020
export const DEFAULT_RELAY_ACCEPT_PORT = 9485

/** The CLI's directory port: the Rust directory's (the wire fixes none, §1.1). */
export const DEFAULT_DIRECTORY_PORT = 8090

// §1.3 headers
export const IICP_VERSION_HEADER_VALUE = "1.5"
export const DISCOVER_CACHE_CONTROL = "public, max-age=5, s-maxage=10, stale-while-revalidate=5"

// §1.4 timeouts
export const DIRECTORY_CALL_TIMEOUT_MS = 5_000
export const TASK_ATTEMPT_GRACE_MS = 2_000
export const LIVENESS_PROBE_TIMEOUT_MS = 5_000
export const NODE_DEFAULT_TASK_TIMEOUT_MS = 60_000
export const NODE_MIN_TASK_TIMEOUT_MS = 100
export const NODE_MAX_TASK_TIMEOUT_MS = 300_000

// §1.4 size caps
export const MAX_JSON_BODY_BYTES = 1_048_576
export const MAX_INTENT_URN_LENGTH = 255

// §2.5 tokens
export const NODE_TOKEN_BYTES = 32

// §4.1 client configuration
export const DEFAULT_DIRECTORY_URL = "https://iicp.network/api"
export const DEFAULT_CLIENT_TIMEOUT_MS = 30_000
export const MAX_CLIENT_TIMEOUT_MS = 120_000
export const MIN_CLIENT_TASK_TIMEOUT_MS = 100

// §4.2 discovery
export const DEFAULT_DISCOVER_LIMIT = 10
export const MAX_DISCOVER_LIMIT = 50
/** How long a discover answer is reused: the directory's `max-age`. */
export const DISCOVER_CACHE_MAX_AGE_MS = 5_000

// §4.2 circuit breaker
export const BREAKER_FAILURE_THRESHOLD = 5
export const BREAKER_OPEN_MS = 30_000

// §4.4 attempts and back-off. The task-lifecycle machine owns these values (machines import nothing
// from src/); they are re-exported here so this file stays the one index of defaults.
export {
  /** Attempts per task across candidates, the first included. */
  TASK_MAX_ATTEMPTS as MAX_TASK_ATTEMPTS,
  /** Back-off before retry n: `baseMs × factor^(n−1) × U(1 − jitterRatio, 1 + jitterRatio)`. */
  TASK_BACKOFF,
  /** A retry hint above this skips that node instead of waiting for it. */
  TASK_MAX_HINT_MS
} from "../machines/task-lifecycle.js"

// §5.1 node lifecycle and §5.3 heartbeat. The node-registration machine owns the schedule values;
// re-exported here as the one index of defaults.
export {
  /** Register back-off after the n-th consecutive failure, in ms; the last value repeats. */
  REGISTER_BACKOFF_SCHEDULE_MS,
  /** Heartbeat period, and the bounds within which a PONG's `next_heartbeat_ms` is honoured. */
  HEARTBEAT_DEFAULT_MS as HEARTBEAT_INTERVAL_MS,
  HEARTBEAT_BOUNDS_MS,
  /** Delay before the one retry of a timed-out heartbeat. */
  HEARTBEAT_RETRY_MS,
  /** Bound on draining in-flight tasks at stop. */
  DRAIN_BOUND_MS as DRAIN_TIMEOUT_MS,
  /** Consecutive failed heartbeats after which the directory is presumed to have lost the node (≈ its 90 s window). */
  OUTAGE_FAILURES as HEARTBEAT_OUTAGE_FAILURES
} from "../machines/node-registration.js"
export const REGISTER_BACKOFF_JITTER_RATIO = 0.2
export const HEARTBEAT_JITTER_RATIO = 0.1
export const SHUTDOWN_RETRY_AFTER_S = 5

// §5.6 idempotency
export const IDEMPOTENCY_WINDOW_MS = 300_000
export const IDEMPOTENCY_MAX_ENTRIES = 10_000

// §5.8 admission
export const CAPACITY_RETRY_AFTER_MS = 2_000
export const MAX_QUEUE_WAIT_MS = 2_000
export const OUTSIDE_WINDOW_SHARE = 0.5

// §5.7 consumer tokens
export const DIRECTORY_KEY_CACHE_MS = 3_600_000
export const DIRECTORY_KEY_REFETCH_MIN_MS = 60_000
export const CONSUMER_TOKEN_CLOCK_SKEW_S = 10
export const CONSUMER_TOKEN_TTL_S = 300
export const CONSUMER_TOKEN_REFRESH_MARGIN_MS = 30_000
export const CONSUMER_TOKEN_DOMAIN = "iicp:consumer-token:v1\n"

// §6 directory
export const NODE_LIVENESS_WINDOW_MS = 90_000
export const DEFERRED_PROBE_DELAY_MS = 3_000
export const REGISTER_RATE_LIMIT = 60
export const REGISTER_RATE_WINDOW_MS = 60_000
export const PROBE_RATE_LIMIT = 30
export const PROBE_RATE_WINDOW_MS = 60_000
export const CONSUMER_TOKEN_RATE_LIMIT = 60
export const CONSUMER_TOKEN_RATE_WINDOW_MS = 60_000
export const MIN_DISCOVER_SCORE = 0.1
export const INITIAL_REPUTATION = 0.5
export const DEFAULT_BOOTSTRAP_LIMIT = 5
export const ADDRESS_HISTORY_RETENTION_MS = 30 * 24 * 3_600_000

// §5 provider node (node runtime)
/** Latency histogram buckets of `iicp_task_latency_ms` (§5.12), in ms. */
export const TASK_LATENCY_BUCKETS_MS = [50, 100, 250, 500, 1_000, 2_500, 5_000, 10_000, 30_000] as const
/** Requests one client IP (and, separately, one Origin) may send per window to a node in `open` auth mode. */
export const OPEN_MODE_RATE_LIMIT = 600
export const OPEN_MODE_RATE_WINDOW_MS = 60_000
/** Rate-limit buckets kept before the oldest are dropped, so a spray of addresses cannot grow memory without bound. */
export const OPEN_MODE_RATE_MAX_KEYS = 10_000
/** `max_concurrent` of a node whose operator sets none. */
export const NODE_DEFAULT_MAX_CONCURRENT = 4
/** Tasks that may wait for a slot at once (with `queueWaitMs` > 0); beyond it they are refused at once. */
export const ADMISSION_MAX_WAITERS = 1_024
/** The qos class of a task whose constraints name none (§5.5). */
export const DEFAULT_QOS_CLASS = "interactive"
/** How often a node re-checks that its backend answers (`degraded` health while it does not), and that check's timeout. */
export const BACKEND_HEALTH_INTERVAL_MS = 30_000
export const BACKEND_HEALTH_TIMEOUT_MS = 5_000
/** Model name the demo echo backend reports. */
export const ECHO_MODEL = "echo"

// §6 embedded directory (directory work)
/** Version the directory reports on `/health`. */
export const DIRECTORY_VERSION = PACKAGE_VERSION
export const PROBE_CONNECT_TIMEOUT_MS = 5_000
/** scrypt parameters standing in for bcrypt (§6.3, DIR-REG-07): N = 2^15, r = 8, p = 1, 16-byte salt, 32-byte hash. */
export const TOKEN_HASH_SCRYPT_N = 32_768
export const TOKEN_HASH_SCRYPT_R = 8
export const TOKEN_HASH_SCRYPT_P = 1
export const TOKEN_HASH_SALT_BYTES = 16
export const TOKEN_HASH_BYTES = 32
export const NODE_HMAC_KEY_BYTES = 16
export const CHALLENGE_BYTES = 16
export const MAX_CAPABILITIES = 32
export const MAX_CAPABILITY_MODELS = 64
export const MAX_MODEL_NAME_LENGTH = 128
export const MAX_ENDPOINT_LENGTH = 2_048
export const MAX_REGION_LENGTH = 64
export const MAX_METRICS_BATCH_ID_LENGTH = 64
/** Batch ids remembered per node so a replayed metrics batch counts once. */
export const METRICS_BATCH_MEMORY = 256
export const MAX_PRICING_MULTIPLIER = 1_000
export const RELAY_TICKET_TTL_S = 120
export const RELAY_TICKET_DOMAIN = "iicp:relay-bind-ticket:v1\n"
export const MAX_BOOTSTRAP_LIMIT = 50
/** outcome-v2 reputation steps and caps (§6.4). */
export const REPUTATION_SUCCESS_STEP = 0.01
export const REPUTATION_FAILURE_STEP = 0.05
export const REPUTATION_TIMEOUT_STEP = 0.1
export const REPUTATION_MAX_GAIN_PER_BEAT = 0.1
export const REPUTATION_MAX_GAIN_PER_HOUR = 0.2
export const REPUTATION_GAIN_WINDOW_MS = 3_600_000
export const REPUTATION_EPOCH = 1
/** A computed discover answer is reused for this long unless a node of that intent changes (the wire allows max-age=5 s). */
export const DISCOVER_RESULT_CACHE_MS = 1_000
/** File store: writes are coalesced for this long, then written atomically. */
export const STORE_WRITE_DEBOUNCE_MS = 1_000
/** What the node reports as `sdk_language` / `sdk_version` on register (§5.2). */
export const NODE_SDK_LANGUAGE = "typescript"
export const NODE_SDK_VERSION = PACKAGE_VERSION
/** Optional QoS probation (§6.5, off by default): completed tasks (and reputation) a node needs per QoS class. */
export const QOS_PROBATION_INTERACTIVE_TASKS = 100
export const QOS_PROBATION_REALTIME_TASKS = 1_000
export const QOS_PROBATION_REALTIME_REPUTATION = 0.8

// §1.4, §4 outbound HTTP (client and runtime)
/** Largest response body an outbound request reads; a longer answer is abandoned (`reset`, "response too large"). */
export const MAX_RESPONSE_BODY_BYTES = 16_777_216
/** How long an idle pooled connection is kept open, and the most a server's keep-alive hint may extend that to. */
export const HTTP_KEEP_ALIVE_MS = 4_000
export const HTTP_KEEP_ALIVE_MAX_MS = 60_000
/** Connections a pool opens to one origin at most. */
export const HTTP_POOL_CONNECTIONS_PER_ORIGIN = 128
/** TCP and TLS connect timeout of an outbound request. */
export const HTTP_CONNECT_TIMEOUT_MS = 10_000

// §5.4 node HTTP lane (node runtime)
/** How long a browser may cache a node's CORS preflight answer (`Access-Control-Max-Age`), in seconds. */
export const NODE_CORS_MAX_AGE_S = 600
/** How long the directory's HTTP server keeps an idle keep-alive connection open. */
export const DIRECTORY_KEEP_ALIVE_TIMEOUT_MS = 5_000
/** How long the liveness prober keeps an idle connection to a node (probes of one node come in bursts). */
export const LIVENESS_PROBE_KEEP_ALIVE_MS = 1_000
/** Discover answers cached at once; past this the cache starts over. */
export const DISCOVER_CACHE_MAX_ENTRIES = 1_024
/** Keys a directory rate limiter tracks before the least recently counted are dropped, so a spray of addresses cannot grow memory without bound. */
export const DIRECTORY_RATE_MAX_KEYS = 10_000
/**
 * Slow (scrypt) node-token checks, needed only when no digest of the node's token is remembered
 * (after a restart): at most this many per node_id, and per client IP, in the window; past that, 429
 * without running scrypt. A node needs one; the per-IP budget matches register's.
 */
export const TOKEN_CHECK_NODE_LIMIT = 5
export const TOKEN_CHECK_IP_LIMIT = 60
export const TOKEN_CHECK_WINDOW_MS = 60_000
