/**
 * Every protocol default, as a named constant with its unit in the name.
 * Values follow WIRE.md; the section is given beside each group.
 */

// §1.1 ports
export const DEFAULT_NODE_HTTP_PORT = 8020
export const DEFAULT_NATIVE_PORT = 9484
export const DEFAULT_RELAY_ACCEPT_PORT = 9485
export const DEFAULT_LOCAL_PROXY_PORT = 9483

// §1.3 headers
export const IICP_VERSION_HEADER_VALUE = "1.5"
export const DISCOVER_CACHE_CONTROL = "public, max-age=5, s-maxage=10, stale-while-revalidate=5"

// §1.4 timeouts
export const DIRECTORY_CALL_TIMEOUT_MS = 5_000
export const TASK_ATTEMPT_GRACE_MS = 2_000
export const PROBE_CALL_TIMEOUT_MS = 10_000
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

// §4.4 attempts and back-off
export const MAX_TASK_ATTEMPTS = 3
export const BACKOFF_BASE_MS = 200
export const BACKOFF_FACTOR = 2
export const BACKOFF_JITTER_RATIO = 0.2
/** A retry hint above this skips that node instead of waiting for it. */
export const MAX_RETRY_HINT_MS = 30_000

// §5.1 node lifecycle
export const REGISTER_BACKOFF_SCHEDULE_S = [2, 4, 8, 16, 32, 60] as const
export const REGISTER_BACKOFF_JITTER_RATIO = 0.2
export const DRAIN_TIMEOUT_MS = 10_000
export const SHUTDOWN_RETRY_AFTER_S = 5

// §5.3 heartbeat
export const HEARTBEAT_INTERVAL_MS = 30_000
export const HEARTBEAT_MIN_INTERVAL_MS = 5_000
export const HEARTBEAT_MAX_INTERVAL_MS = 60_000
export const HEARTBEAT_JITTER_RATIO = 0.1
export const HEARTBEAT_TIMEOUT_RETRY_MS = 100

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
