// The public API, as the page calls it: the key from local storage, and the server's error messages.

const KEY_STORAGE = "csm-voice-api.key";

export function apiKey() {
  return localStorage.getItem(KEY_STORAGE) || "";
}

export function setApiKey(key) {
  if (key) localStorage.setItem(KEY_STORAGE, key);
  else localStorage.removeItem(KEY_STORAGE);
}

// An error answer: the server's message, the field it names (param) and the HTTP status.
export class ApiError extends Error {
  constructor(message, { status = 0, param = null } = {}) {
    super(message);
    this.status = status;
    this.param = param;
  }
}

export async function errorOf(response) {
  let message = `${response.status} ${response.statusText}`;
  let param = null;
  try {
    const body = await response.json();
    message = body.error?.message || message;
    param = body.error?.param ?? null;
  } catch {
    // not JSON: keep the status line
  }
  if (response.status === 401 && !apiKey()) {
    message = `${message} This server requires an API key: add it under Settings → API key.`;
  }
  return new ApiError(message, { status: response.status, param });
}

// fetch() on this server with the key; an ApiError for any answer that is not 2xx.
export async function call(path, { method = "GET", json, form, signal } = {}) {
  const headers = {};
  const key = apiKey();
  if (key) headers.Authorization = `Bearer ${key}`;
  let body;
  if (json !== undefined) {
    headers["Content-Type"] = "application/json";
    body = JSON.stringify(json);
  } else if (form !== undefined) {
    body = form;
  }
  let response;
  try {
    response = await fetch(path, { method, headers, body, signal });
  } catch (error) {
    if (error.name === "AbortError") throw error;
    throw new ApiError(`The server could not be reached (${error.message}).`);
  }
  if (!response.ok) throw await errorOf(response);
  return response;
}

// A WebSocket to this server; the key travels as the `bearer.<key>` subprotocol (browsers cannot set headers).
export function openSocket(path) {
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  const key = apiKey();
  return new WebSocket(`${scheme}//${location.host}${path}`, key ? [`bearer.${key}`] : []);
}

export function base64Of(blob) {
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(String(reader.result).split(",", 2)[1] || "");
    reader.onerror = () => reject(reader.error);
    reader.readAsDataURL(blob);
  });
}
