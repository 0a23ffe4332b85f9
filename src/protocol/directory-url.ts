/** Directory base URLs (WIRE.md §4.1), shared by the client and the node. */

/**
 * The base every directory call is made against: trailing slashes and a trailing `/v1` stripped;
 * `undefined` when `raw` is not an http(s) URL. Calls are `${base}/v1/<op>`.
 */
export const normalizeDirectoryUrl = (raw: string): string | undefined => {
  let url: URL
  try {
    url = new URL(raw.trim())
  } catch {
    return undefined
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") return undefined
  const path = url.pathname.replace(/\/+$/, "").replace(/\/v1$/, "").replace(/\/+$/, "")
  return `${url.protocol}//${url.host}${path}`
}

/**
 * The base to retry once at after a 404 from discover or register (§4.1): `${base}/api`, unless
 * the base already ends in `/api`.
 */
export const apiFallbackBase = (base: string): string | undefined => (/\/api$/.test(base) ? undefined : `${base}/api`)
