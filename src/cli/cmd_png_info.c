/* `mend png-info FILE [--all] [--ignore-crc]`: prints the A1111 infotext
 * of a PNG (its "parameters" text chunk) or of a JPEG or WebP (EXIF
 * UserComment), or with --all every text chunk as "key: text". */
#include "cli/cli.h"
#include "mend/png_text.h"

#include <stdio.h>

static const char *png_info_usage = "usage: mend png-info FILE.{png,jpg,webp} [--all] [--ignore-crc]";

int cmd_png_info(int argc, char **argv)
{
    cli_opt opts[] = {{"all", 0, NULL}, {"ignore-crc", 0, NULL}, {"help", 0, NULL}};
    const int nopts = (int)(sizeof opts / sizeof *opts);
    const char *pos[1];
    int npos;
    if (cli_parse(argc, argv, opts, nopts, pos, 1, &npos))
        return 2;
    if (cli_get(opts, nopts, "help")) {
        puts(png_info_usage);
        return 0;
    }
    if (npos != 1) {
        fprintf(stderr, "mend: png-info: give one file\n%s\n", png_info_usage);
        return 2;
    }
    int crc = cli_get(opts, nopts, "ignore-crc") ? MEND_PNG_CRC_IGNORE : MEND_PNG_CRC_CHECK;
    mend_err err = {0};
    mend_png_text_list texts;
    if (mend_png_text_read_file(pos[0], crc, &texts, &err) != MEND_OK)
        return cli_error(&err);
    int rc = 0;
    if (cli_get(opts, nopts, "all")) {
        for (int i = 0; i < texts.count; i++)
            printf("%s: %s\n", texts.items[i].key, texts.items[i].text);
        if (texts.count == 0)
            rc = cli_errorf("%s: no text chunks", pos[0]);
    } else {
        const char *params = mend_png_text_get(&texts, "parameters");
        if (params)
            printf("%s\n", params);
        else
            rc = cli_errorf("%s: no 'parameters' text chunk or EXIF UserComment (not an image with A1111 "
                            "generation parameters)",
                            pos[0]);
    }
    mend_png_text_list_free(&texts);
    return rc;
}
