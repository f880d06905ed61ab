"""The live page: `routes` serves `/` and `/static/{name}` from `static/` (HTML, CSS, ES
modules, no build step); `apidoc` describes them for OpenAPI."""
