/* The embedded web page: lookup by URL path, content types, and that every
 * asset index.html refers to is embedded (a renamed file would otherwise give
 * a blank page only at run time). */
#include "test.h"
#include "server/web_assets.h"

#include <string.h>

TEST(root_and_web_prefix_give_the_page)
{
    const char *paths[] = {"/", "/web", "/web/", "/web/index.html", "/?x=1", "/web/index.html#top"};
    for (size_t i = 0; i < sizeof paths / sizeof *paths; i++) {
        const mend_web_asset *a = mend_web_asset_find(paths[i]);
        CHECK(a != NULL);
        if (a) {
            CHECK(!strcmp(a->path, "index.html"));
            CHECK(!strncmp(a->content_type, "text/html", 9));
            CHECK(a->size > 100 && strstr((const char *)a->data, "<html") != NULL);
        }
    }
}

TEST(scripts_and_styles_have_their_types)
{
    const mend_web_asset *js = mend_web_asset_find("/web/app.js");
    const mend_web_asset *css = mend_web_asset_find("/web/style.css?v=2");
    CHECK(js && !strncmp(js->content_type, "text/javascript", 15));
    CHECK(css && !strncmp(css->content_type, "text/css", 8));
}

TEST(other_paths_are_not_assets)
{
    const char *paths[] = {"", "/index.html", "/web/nope.js", "/web/../CMakeLists.txt", "/web//app.js",
                           "/sdapi/v1/progress", "/webapp.js", "/web/app.jsx", "/web/app"};
    for (size_t i = 0; i < sizeof paths / sizeof *paths; i++)
        CHECK(mend_web_asset_find(paths[i]) == NULL);
    CHECK(mend_web_asset_find(NULL) == NULL);
}

TEST(assets_are_text_and_nul_terminated)
{
    /* src/server/static.c sends bodies as C strings. */
    CHECK(mend_web_asset_count() >= 3);
    for (size_t i = 0; i < mend_web_asset_count(); i++) {
        const mend_web_asset *a = mend_web_asset_at(i);
        CHECK(strlen((const char *)a->data) == a->size);
        CHECK(a->data[a->size] == 0);
    }
    CHECK(mend_web_asset_at(mend_web_asset_count()) == NULL);
}

TEST(page_references_only_embedded_assets)
{
    const mend_web_asset *page = mend_web_asset_find("/");
    CHECK(page != NULL);
    if (!page)
        return;
    const char *p = (const char *)page->data;
    int refs = 0;
    while ((p = strstr(p, "\"/web/"))) {
        char path[128];
        size_t n = strcspn(p + 1, "\"");
        CHECK(n < sizeof path);
        if (n >= sizeof path)
            break;
        memcpy(path, p + 1, n);
        path[n] = 0;
        if (!mend_web_asset_find(path))
            fprintf(stderr, "index.html refers to %s, which is not embedded\n", path);
        CHECK(mend_web_asset_find(path) != NULL);
        refs++;
        p += n + 1;
    }
    CHECK(refs >= 2);
}

int main(void)
{
    RUN(root_and_web_prefix_give_the_page);
    RUN(scripts_and_styles_have_their_types);
    RUN(other_paths_are_not_assets);
    RUN(assets_are_text_and_nul_terminated);
    RUN(page_references_only_embedded_assets);
    return test_summary();
}
