// The access token (asked once in a dialog, kept for the session) and every HTTP call the page makes with it.

import { byId } from "./dom.js";
import { KEYS, recall, remember } from "./session.js";

const dialog = byId("token-dialog");
const reasonText = byId("token-reason");
const input = byId("token");

let token = String(recall(KEYS.token, "") || "");
let prompt = null;

export function currentToken() {
  return token;
}

// Ask for a token; every caller waiting at once shares the one dialog. Resolves to the token given, or "".
export function askForToken(reason = tokenReason()) {
  if (prompt) return prompt;
  prompt = new Promise((resolve) => {
    reasonText.textContent = reason;
    input.value = "";
    const onClose = () => {
      dialog.removeEventListener("close", onClose);
      const given = dialog.returnValue === "ok" ? input.value.trim() : "";
      prompt = null;
      if (given) {
        token = given;
        remember(KEYS.token, token);
      }
      resolve(given);
    };
    dialog.addEventListener("close", onClose);
    dialog.returnValue = "";
    dialog.showModal();
    input.focus();
  });
  return prompt;
}

export function tokenReason() {
  return token ? "The server refused the token. Enter the right one." : "This linkcast server needs an access token.";
}

export function authHeaders() {
  return token ? { Authorization: `Bearer ${token}` } : {};
}

// fetch with the token; on 401 ask for it once and try again. The body is sent as JSON.
export function callApi(method, path, body) {
  return sendApi(method, path, body === undefined ? undefined : JSON.stringify(body), "application/json");
}

// The same with a body as it is (an OPML file), of the type given.
export async function sendApi(method, path, body, contentType) {
  for (let attempt = 0; ; attempt += 1) {
    const response = await fetch(path, {
      method,
      headers: { "Content-Type": contentType, Accept: "application/json", ...authHeaders() },
      body,
      cache: "no-store",
    });
    if (response.status !== 401 || attempt > 0) return response;
    if (!(await askForToken(tokenReason()))) return response;
  }
}

// The error of a refused call, from its JSON body (`answer`, already read) if it has one.
export function errorOf(response, answer) {
  return (answer && answer.error) || { code: `http_${response.status}`, message: response.statusText };
}

// The error of a refused call whose body is not read yet.
export async function refusal(response) {
  return errorOf(response, await response.json().catch(() => null));
}

const LISTING_PAGE = 1000; // items per GET of a listing (the API's largest page)

// Every page of a listing (GET `path`?limit=&after=), in its order: each page's items (`answer[field]`) go to
// `take`, until the listing ends or `take` returns false. Returns the refused response, if one was (null if not),
// and whether the listing was read to its end. A network failure throws.
export async function readListing(path, field, take) {
  let after = null;
  do {
    const params = new URLSearchParams({ limit: String(LISTING_PAGE) });
    if (after !== null) params.set("after", after);
    const response = await callApi("GET", `${path}?${params}`);
    if (!response.ok) return { refused: response, complete: false };
    const answer = await response.json();
    after = answer.next ?? null;
    if (take(answer[field]) === false) break;
  } while (after !== null);
  return { refused: null, complete: after === null };
}
