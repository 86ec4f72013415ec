// Every figure comes from the API, under the signed-in person's role: the session cookie goes with
// each request (same origin only), and actions carry the session's CSRF token.
let csrf = null;

export class ApiError extends Error {
  constructor(status, detail) {
    super(detail || `HTTP ${status}`);
    this.status = status;
  }
}

export function setCsrf(token) {
  csrf = token;
}

// One id per action the person confirmed: a retried request acts once (the API's Idempotency-Key).
function actionId() {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return `console-${Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("")}`;
}

export async function call(method, path, body) {
  const headers = { Accept: "application/json" };
  if (method !== "GET") headers["X-CSRF-Token"] = csrf || "";
  if (method === "POST" && !path.startsWith("/console/")) headers["Idempotency-Key"] = actionId();
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(path, {
    method,
    headers,
    credentials: "same-origin",
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (response.status === 204) return null;
  const answer = await response.json().catch(() => null);
  if (!response.ok) {
    if (response.status === 401 && !path.startsWith("/console/session")) window.dispatchEvent(new Event("signed-out"));
    throw new ApiError(response.status, answer && answer.detail);
  }
  return answer;
}

export const get = (path, query = {}) => {
  const params = new URLSearchParams();
  for (const [name, value] of Object.entries(query)) if (value !== null && value !== undefined && value !== "") params.set(name, value);
  const text = params.toString();
  return call("GET", text ? `${path}?${text}` : path);
};
