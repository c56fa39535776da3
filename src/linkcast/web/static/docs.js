// /docs: Swagger UI rendering /openapi.json. Configured here, not in the page: its Content-Security-Policy runs
// scripts from this server's files only.
"use strict";

window.ui = SwaggerUIBundle({
  url: "/openapi.json",
  dom_id: "#swagger-ui",
  deepLinking: true,
  displayRequestDuration: true,
  // The default would send the spec to validator.swagger.io for a badge: this page loads nothing from elsewhere.
  validatorUrl: null,
  // Only what the spec says: no ?url= or ?configUrl= making the page render (and call) another API.
  queryConfigEnabled: false,
  // The plain layout: the standalone one adds a bar to load other specs, and a script of its own.
  presets: [SwaggerUIBundle.presets.apis],
  layout: "BaseLayout",
});
