/* GET /openapi.json: the routes (routes.c) as an OpenAPI 3.1 document, the
 * txt2img/img2img request schemas generated from the parameter table
 * (type, default, minimum/maximum, choices) and h_generate.c's other
 * fields; GET /docs: a self-contained page (no CDN: mend may run with no
 * internet) that fetches and lists it. */
#include "server/server.h"
#include "server/params_api.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const request_schemas[][2] = {
    {"/sdapi/v1/txt2img", "StableDiffusionTxt2ImgProcessingAPI"},
    {"/sdapi/v1/img2img", "StableDiffusionImg2ImgProcessingAPI"},
};

static cJSON *generate_schema(int img2img)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "title", request_schemas[img2img][1]);
    cJSON_AddStringToObject(o, "type", "object");
    cJSON *props = cJSON_AddObjectToObject(o, "properties");
    srv_generate_schema(props, img2img);
    srv_params_schema(props, img2img);
    return o;
}

static const char *schema_of(const char *path)
{
    for (size_t i = 0; i < sizeof request_schemas / sizeof *request_schemas; i++)
        if (!strcmp(path, request_schemas[i][0]))
            return request_schemas[i][1];
    return NULL;
}

static cJSON *operation(const srv_route_info *ri, const char *method)
{
    cJSON *op = cJSON_CreateObject();
    cJSON_AddStringToObject(op, "summary", ri->summary ? ri->summary : ri->path);
    char id[160];
    snprintf(id, sizeof id, "%s_%s", method, ri->path);
    for (char *c = id; *c; c++)
        if (*c == '/' || *c == '-' || *c == '.')
            *c = '_';
    cJSON_AddStringToObject(op, "operationId", id);
    const char *schema = schema_of(ri->path);
    if (schema && !strcmp(method, "post")) {
        char ref[128];
        snprintf(ref, sizeof ref, "#/components/schemas/%s", schema);
        cJSON *content = cJSON_AddObjectToObject(cJSON_AddObjectToObject(op, "requestBody"), "content");
        cJSON *js = cJSON_AddObjectToObject(cJSON_AddObjectToObject(content, "application/json"), "schema");
        cJSON_AddStringToObject(js, "$ref", ref);
    }
    cJSON *resp = cJSON_AddObjectToObject(op, "responses");
    cJSON_AddStringToObject(cJSON_AddObjectToObject(resp, "200"), "description", "Successful Response");
    if (!strcmp(method, "post"))
        cJSON_AddStringToObject(cJSON_AddObjectToObject(resp, "422"), "description", "Validation Error");
    return op;
}

static cJSON *openapi_doc(const srv_server *s)
{
    cJSON *doc = cJSON_CreateObject();
    cJSON_AddStringToObject(doc, "openapi", "3.1.0");
    cJSON *info = cJSON_AddObjectToObject(doc, "info");
    cJSON_AddStringToObject(info, "title", "mend");
    cJSON_AddStringToObject(info, "description", "Stable Diffusion inpainting with AUTOMATIC1111's API");
    cJSON_AddStringToObject(info, "version", MEND_VERSION);
    cJSON *paths = cJSON_AddObjectToObject(doc, "paths");
    for (int i = 0; i < srv_route_count(s); i++) {
        srv_route_info ri = srv_route_at(s, i);
        cJSON *item = cJSON_AddObjectToObject(paths, ri.path);
        if (strstr(ri.methods, "GET"))
            cJSON_AddItemToObject(item, "get", operation(&ri, "get"));
        if (strstr(ri.methods, "POST"))
            cJSON_AddItemToObject(item, "post", operation(&ri, "post"));
    }
    cJSON *schemas = cJSON_AddObjectToObject(cJSON_AddObjectToObject(doc, "components"), "schemas");
    for (int k = 0; k < 2; k++)
        cJSON_AddItemToObject(schemas, request_schemas[k][1], generate_schema(k));
    return doc;
}

void h_openapi(srv_server *s, const srv_call *c, srv_response *r)
{
    (void)c;
    srv_reply_json(r, 200, openapi_doc(s));
}

/* The page renders the document with plain DOM calls: each route with its
 * methods and summary, the request schemas as tables. */
static const char docs_html[] =
    "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>mend API</title>\n"
    "<style>body{font:14px system-ui,sans-serif;margin:2em;max-width:70em}code{font:13px monospace}"
    ".m{display:inline-block;width:4em;font-weight:bold}.get{color:#26a}.post{color:#2a6}"
    "table{border-collapse:collapse;margin:.5em 0 1.5em}td,th{border:1px solid #ccc;padding:2px 6px;"
    "text-align:left;vertical-align:top}</style></head><body>\n"
    "<h1>mend API</h1><p>From <a href=\"/openapi.json\">/openapi.json</a>.</p><div id=\"routes\"></div>"
    "<div id=\"schemas\"></div>\n<script>\n"
    "function el(t,txt,cls){const e=document.createElement(t);if(txt!==undefined)e.textContent=txt;"
    "if(cls)e.className=cls;return e}\n"
    "fetch('/openapi.json').then(r=>r.json()).then(doc=>{\n"
    " const R=document.getElementById('routes');R.appendChild(el('h2','Routes'));\n"
    " for(const [path,item] of Object.entries(doc.paths)){for(const [m,op] of Object.entries(item)){\n"
    "  const d=el('div');d.className='route';d.appendChild(el('span',m.toUpperCase(),'m '+m));\n"
    "  d.appendChild(el('code',path));d.appendChild(document.createTextNode(' \\u2014 '+op.summary));\n"
    "  const ref=op.requestBody&&op.requestBody.content['application/json'].schema.$ref;\n"
    "  if(ref){const a=el('a',' (request)');a.href='#'+ref.split('/').pop();d.appendChild(a)}R.appendChild(d)}}\n"
    " const S=document.getElementById('schemas');\n"
    " for(const [name,sc] of Object.entries(doc.components.schemas)){const h=el('h2',name);h.id=name;"
    "S.appendChild(h);\n"
    "  const t=el('table');const hr=el('tr');for(const c of ['field','type','default','range','description'])"
    "hr.appendChild(el('th',c));t.appendChild(hr);\n"
    "  for(const [k,p] of Object.entries(sc.properties)){const tr=el('tr');tr.appendChild(el('td',k));"
    "tr.appendChild(el('td',p.type||'any'));\n"
    "   tr.appendChild(el('td',JSON.stringify(p.default)));tr.appendChild(el('td',p.enum?p.enum.join(', '):"
    "p.minimum!==undefined?p.minimum+' .. '+p.maximum:''));\n"
    "   tr.appendChild(el('td',p.description||''));t.appendChild(tr)}S.appendChild(t)}\n"
    "}).catch(e=>{document.body.appendChild(el('p','cannot load /openapi.json: '+e))});\n"
    "</script></body></html>\n";

void h_docs(srv_server *s, const srv_call *c, srv_response *r)
{
    (void)s, (void)c;
    r->body = strdup(docs_html);
    r->status = r->body ? 200 : 500;
    r->content_type = "text/html; charset=utf-8";
}
