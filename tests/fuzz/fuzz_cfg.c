/* libFuzzer target: the whole config loader (cfg_load_string) on any
 * text. A load either succeeds with a config or fails with error lines. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../config/cfg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct cfg *c = NULL;
    char *errors = NULL, *text = malloc(size + 1);
    int rc;

    if (text == NULL)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    rc = cfg_load_string("fuzz.json", text, &c, &errors);
    if ((rc == 0) != (c != NULL) || (rc != 0 && errors == NULL))
        abort();
    cfg_free(c);
    free(errors);
    free(text);
    return 0;
}
