"""/v1/docs: a plain HTML reference rendered from the OpenAPI document.

Generated from the same document the suite checks against the API, so the human docs
cannot say something the machine-readable ones don't. No JavaScript, no CDN: one page
and one stylesheet from our static files.
"""

from __future__ import annotations

import re
from functools import cache
from typing import Any

from django.templatetags.static import static
from django.utils.html import escape, format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe

from leasing.api.openapi import COMMON_HEADERS, Schema, document

_CODE = re.compile(r"`([^`]+)`")


def _text(value: str) -> SafeString:
    """Escaped text with `code` spans."""
    return mark_safe(_CODE.sub(r"<code>\1</code>", str(escape(value))))  # noqa: S308


def _paragraphs(value: str) -> SafeString:
    return format_html_join(
        "\n", "<p>{}</p>", ((_text(p.strip()),) for p in value.split("\n\n") if p.strip())
    )


def _resolve(doc: Schema, node: Schema) -> Schema:
    while "$ref" in node:
        path = node["$ref"].removeprefix("#/").split("/")
        target: Any = doc
        for part in path:
            target = target[part]
        node = target
    return node


def _ref_name(node: Schema) -> str | None:
    ref = node.get("$ref")
    return ref.rsplit("/", 1)[-1] if isinstance(ref, str) else None


def _type(node: Schema) -> SafeString:
    name = _ref_name(node)
    if name:
        return format_html('<a href="#schema-{}">{}</a>', name, name)
    kind = node.get("type", "any")
    if kind == "array":
        return format_html("array of {}", _type(node.get("items", {})))
    parts = [escape(kind)]
    if node.get("nullable"):
        parts.append(escape("or null"))
    return mark_safe(" ".join(parts))  # noqa: S308


def _constraints(node: Schema) -> str:
    notes = []
    if "enum" in node:
        notes.append(
            "one of "
            + ", ".join(str(v).lower() if isinstance(v, bool) else str(v) for v in node["enum"])
        )
    for key, label in (
        ("minimum", "min"),
        ("maximum", "max"),
        ("minLength", "min length"),
        ("maxLength", "max length"),
        ("maxItems", "max items"),
        ("pattern", "pattern"),
        ("format", "format"),
    ):
        if key in node:
            notes.append(f"{label} {node[key]}")
    return "; ".join(notes)


def _parameters_table(doc: Schema, params: list[Schema]) -> SafeString:
    if not params:
        return SafeString("")
    rows = []
    for param in (_resolve(doc, p) for p in params):
        schema = param.get("schema", {})
        rows.append(
            (
                param["name"],
                param["in"],
                _type(schema),
                "required" if param.get("required") else "optional",
                _constraints(schema),
                _text(param.get("description", schema.get("description", ""))),
            )
        )
    body = format_html_join(
        "\n",
        "<tr><td><code>{}</code></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
        rows,
    )
    return format_html(
        "<h4>Parameters</h4><table><thead><tr><th>Name</th><th>In</th><th>Type</th>"
        "<th></th><th>Rules</th><th>Description</th></tr></thead><tbody>{}</tbody></table>",
        body,
    )


def _responses_table(doc: Schema, responses: Schema) -> SafeString:
    rows = []
    for status, response in responses.items():
        schema = response.get("content", {}).get("application/json", {}).get("schema", {})
        # Every response carries the common headers; list only the ones that are not.
        headers = ", ".join(h for h in response.get("headers", {}) if h not in COMMON_HEADERS)
        rows.append((status, _type(schema), _text(response["description"]), headers))
    body = format_html_join(
        "\n",
        "<tr><td><strong>{}</strong></td><td>{}</td><td>{}</td><td class=headers>{}</td></tr>",
        rows,
    )
    return format_html(
        "<h4>Responses</h4><table><thead><tr><th>Status</th><th>Body</th><th>When</th>"
        "<th>Extra headers</th></tr></thead><tbody>{}</tbody></table>",
        body,
    )


def _operations(doc: Schema) -> list[tuple[str, str, Schema, list[Schema]]]:
    found = []
    for path, item in doc["paths"].items():
        shared = item.get("parameters", [])
        for method in ("get", "post", "delete"):
            if method in item:
                operation = item[method]
                found.append(
                    (method.upper(), path, operation, shared + operation.get("parameters", []))
                )
    return found


def _operation_html(
    doc: Schema, method: str, path: str, op: Schema, params: list[Schema]
) -> SafeString:
    body = op.get("requestBody")
    body_html = SafeString("")
    if body:
        schema = body["content"]["application/json"]["schema"]
        body_html = format_html(
            "<h4>Body ({})</h4><p>JSON: {}</p>",
            "required" if body.get("required") else "optional",
            _type(schema),
        )
    return format_html(
        '<section class=operation id="{}"><h3><span class="method {}">{}</span> '
        "<code>{}</code></h3><p class=summary>{}</p>{}{}{}{}</section>",
        op["operationId"],
        method.lower(),
        method,
        path,
        op["summary"],
        _paragraphs(op.get("description", "")),
        _parameters_table(doc, params),
        body_html,
        _responses_table(doc, op["responses"]),
    )


def _schema_html(doc: Schema, name: str, schema: Schema) -> SafeString:
    required = set(schema.get("required", []))
    rows = []
    for prop, node in schema.get("properties", {}).items():
        rows.append(
            (
                prop,
                _type(node),
                "required" if prop in required else "optional",
                _constraints(node),
                _text(node.get("description", "")),
            )
        )
    extra = "" if schema.get("additionalProperties", True) else "Unknown fields are refused (422)."
    body = format_html_join(
        "\n",
        "<tr><td><code>{}</code></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
        rows,
    )
    return format_html(
        '<section class=schema id="schema-{}"><h3>{}</h3><p>{}</p><table><thead><tr>'
        "<th>Field</th><th>Type</th><th></th><th>Rules</th><th>Description</th></tr></thead>"
        "<tbody>{}</tbody></table></section>",
        name,
        name,
        extra,
        body,
    )


@cache
def docs_html() -> str:
    doc = document()
    operations = _operations(doc)
    nav = format_html_join(
        "\n",
        '<li><a href="#{}"><span class="method {}">{}</span> {}</a></li>',
        ((op["operationId"], m.lower(), m, path) for m, path, op, _ in operations),
    )
    ops_html = mark_safe(  # noqa: S308
        "\n".join(_operation_html(doc, *operation) for operation in operations)
    )
    schemas_html = mark_safe(  # noqa: S308
        "\n".join(_schema_html(doc, name, s) for name, s in doc["components"]["schemas"].items())
    )
    page = format_html(
        "<!doctype html>\n<html lang=en><head><meta charset=utf-8>"
        '<meta name=viewport content="width=device-width, initial-scale=1">'
        "<title>{} v{}</title>"
        '<link rel=stylesheet href="{}"></head><body>'
        "<nav><h2>Endpoints</h2><ul>{}</ul><p><a href=#schemas>Schemas</a></p>"
        '<p><a href="openapi.json">openapi.json</a></p></nav>'
        "<main><h1>{} <small>v{}</small></h1>{}"
        "<h2>Endpoints</h2>{}<h2 id=schemas>Schemas</h2>{}</main></body></html>",
        doc["info"]["title"],
        doc["info"]["version"],
        static("api/docs.css"),
        nav,
        doc["info"]["title"],
        doc["info"]["version"],
        _paragraphs(doc["info"]["description"]),
        ops_html,
        schemas_html,
    )
    return str(page)
