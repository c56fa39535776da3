"""``/openapi.json``, and ``/docs``, a page that renders it (with no script or style from a CDN, so it works
offline)."""

from __future__ import annotations

import orjson
from quart import Blueprint, Response, current_app

from linkcast.web.guard import guard
from linkcast.web.openapi.answers import JSON
from linkcast.web.openapi.spec import build_spec

openapi = Blueprint("openapi", __name__)


@openapi.get("/openapi.json")
async def openapi_json() -> Response:
    rules = {rule.rule for rule in current_app.url_map.iter_rules()}
    return Response(orjson.dumps(build_spec(rules, bool(guard().token))), content_type=JSON)


@openapi.get("/docs")
async def docs() -> Response:
    return Response(DOCS_PAGE, content_type="text/html; charset=utf-8")


# A minimal renderer: each operation with its summary, parameters, body and answers, schemas shown as JSON.
DOCS_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>linkcast API</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body{font:15px/1.45 system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#222}
h1{margin-bottom:.2rem} details{border:1px solid #ccc;border-radius:6px;margin:.6rem 0;padding:.4rem .8rem}
summary{cursor:pointer} .m{display:inline-block;min-width:4rem;font-weight:bold;text-transform:uppercase}
code,pre{font:13px ui-monospace,monospace} pre{background:#f5f5f5;padding:.5rem;overflow:auto}
</style></head><body><h1>linkcast API</h1><p id="info">Loading <a href="/openapi.json">/openapi.json</a>…</p>
<div id="ops"></div>
<script>
const el = (tag, text) => { const e = document.createElement(tag); if (text) e.textContent = text; return e; };
const pre = (value) => el("pre", JSON.stringify(value, null, 2));
fetch("/openapi.json").then(r => r.json()).then(spec => {
  const info = document.getElementById("info");
  info.textContent = spec.info.description + " (version " + spec.info.version + ", OpenAPI " + spec.openapi + ")";
  const ops = document.getElementById("ops");
  for (const [path, methods] of Object.entries(spec.paths)) {
    for (const [method, op] of Object.entries(methods)) {
      const box = el("details"), head = el("summary");
      const m = el("span", method); m.className = "m";
      head.append(m, el("code", path), " — " + op.summary);
      box.append(head);
      if (op.description) box.append(el("p", op.description));
      if (op.parameters) { box.append(el("h4", "Parameters")); box.append(pre(op.parameters)); }
      if (op.requestBody) { box.append(el("h4", "Body")); box.append(pre(op.requestBody.content)); }
      box.append(el("h4", "Answers"));
      for (const [status, answer] of Object.entries(op.responses)) {
        box.append(el("p", status + ": " + answer.description));
        if (answer.content) box.append(pre(answer.content));
      }
      ops.append(box);
    }
  }
  const schemas = el("details"); schemas.append(el("summary", "Schemas"), pre(spec.components.schemas));
  ops.append(schemas);
}).catch(error => { document.getElementById("info").textContent = "Cannot load /openapi.json: " + error; });
</script></body></html>
"""
