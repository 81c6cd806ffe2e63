// JSON requests to the server: the session cookie goes by itself; state-changing requests add the CSRF token.
let csrf = "";

export function setCsrf(token: string): void {
  csrf = token;
}

export class ApiError extends Error {
  constructor(public status: number, message: string) {
    super(message);
  }
}

export async function api<T>(method: string, path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = { Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (method !== "GET") headers["X-CSRF-Token"] = csrf;
  const answer = await fetch(path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    credentials: "same-origin",
  });
  if (!answer.ok) {
    let detail = `HTTP ${answer.status}`;
    try {
      const parsed = await answer.json();
      if (typeof parsed.detail === "string") detail = parsed.detail;
    } catch {
      // not JSON: keep the status line
    }
    throw new ApiError(answer.status, detail);
  }
  return (answer.status === 204 ? null : await answer.json()) as T;
}
