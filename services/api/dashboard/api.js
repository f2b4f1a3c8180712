// Talks to the Gatehouse API with the operator's token. The token lives in sessionStorage only (gone when
// the tab closes, never in a URL or a cookie) and travels as the Authorization header.

const tokenKey = 'gatehouse.token';

export function storedToken() {
  return sessionStorage.getItem(tokenKey);
}

export function forgetToken() {
  sessionStorage.removeItem(tokenKey);
}

/** An answer the API refused: `status` and the problem document (`detail`, `errors`, `retryAfter`). */
export class ApiError extends Error {
  constructor(status, problem) {
    const errors = (problem.errors ?? []).map((error) => `${error.field}: ${error.message}`).join('; ');
    super([problem.detail ?? problem.title ?? `HTTP ${status}`, errors].filter(Boolean).join(' — '));
    this.status = status;
    this.problem = problem;
  }
}

let onUnauthorized = () => {};
/** Called when a stored token stops working (401): the shell returns to the login form. */
export function setUnauthorizedHandler(handler) {
  onUnauthorized = handler;
}

async function send(token, method, path, body) {
  const response = await fetch(path, {
    method,
    headers: {
      authorization: `Bearer ${token}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    cache: 'no-store',
    credentials: 'omit',
    referrerPolicy: 'no-referrer',
  });
  const text = await response.text();
  let parsed;
  try {
    parsed = text === '' ? undefined : JSON.parse(text);
  } catch {
    parsed = { detail: text.slice(0, 300) };
  }
  if (!response.ok) throw new ApiError(response.status, parsed ?? {});
  return { status: response.status, body: parsed };
}

/**
 * Checks a token against the API before keeping it: only a token the API accepts is stored. Resolves true
 * when accepted, false when refused (401); other failures throw.
 */
export async function login(token) {
  try {
    await send(token, 'GET', '/v1/settings');
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) return false;
    throw error;
  }
  sessionStorage.setItem(tokenKey, token);
  return true;
}

/** A request with the stored token; `{status, body}` or an ApiError. */
export async function api(method, path, body) {
  const token = storedToken();
  if (!token) {
    onUnauthorized();
    throw new ApiError(401, { detail: 'not logged in' });
  }
  try {
    return await send(token, method, path, body);
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) {
      forgetToken();
      onUnauthorized();
    }
    throw error;
  }
}

/** `/v1/...?` with the defined parameters only. */
export function withQuery(path, params) {
  const query = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value !== undefined && value !== null && value !== '') query.set(key, String(value));
  }
  const text = query.toString();
  return text ? `${path}?${text}` : path;
}
