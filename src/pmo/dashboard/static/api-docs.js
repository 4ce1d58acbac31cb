/* Starts Swagger UI on /docs (a file, not an inline script: the Content-Security-Policy forbids those). */
window.addEventListener("load", function () {
  // validatorUrl: null — no badge fetched from validator.swagger.io (no outside calls on LGWAN)
  window.ui = SwaggerUIBundle({ url: "/openapi.json", dom_id: "#swagger-ui", deepLinking: true, validatorUrl: null });
});
