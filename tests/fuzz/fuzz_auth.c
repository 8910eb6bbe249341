/* libFuzzer target: SigV4 verification of an inbound request. The input
 * is "<request target>\n<Name: value>\n...\n\n<body>"; the server clock is
 * pinned to 20150830T123600Z and one key (the suite's) is configured, so
 * well-formed inputs get through the date, scope and key checks to the
 * signature. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../delivery/auth.h"
#include "../../delivery/log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct auth *fuzz_auth;

static void init(void)
{
    static struct cfg_credential cr = {
        (char *)"AKIDEXAMPLE",
        (char *)"wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", NULL
    };
    struct cfg_service svc;
    struct err e;

    log_init(0, LOG_ERROR);
    memset(&svc, 0, sizeof(svc));
    svc.credentials = &cr;
    svc.n_credentials = 1;
    svc.allow_session_tokens = 1;
    svc.max_clock_skew_s = 900;
    if (auth_new(&svc, NULL, &fuzz_auth, &e) != 0)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct auth_request r;
    struct auth_result res;
    char *text = malloc(size + 1), *p, *nl, *colon;

    if (fuzz_auth == NULL)
        init();
    if (text == NULL)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    memset(&r, 0, sizeof(r));
    r.method = "POST";
    r.now_s = 1440938160;
    r.uri = text;
    p = text;
    nl = memchr(p, '\n', size);
    r.body = "";
    if (nl != NULL) {
        *nl = '\0';
        p = nl + 1;
        while ((nl = strchr(p, '\n')) != NULL && nl != p) {
            *nl = '\0';
            colon = strchr(p, ':');
            if (colon != NULL) {
                *colon++ = '\0';
                while (*colon == ' ')
                    colon++;
                auth_add_header(&r, p, colon);
            }
            p = nl + 1;
        }
        if (nl != NULL)
            p = nl + 1;
        r.body = p;
        r.body_len = (size_t)(text + size - p);
    }
    if (auth_verify(fuzz_auth, &r, &res) != 0 &&
        (res.type == NULL || res.message[0] == '\0'))
        abort();
    free(text);
    return 0;
}
