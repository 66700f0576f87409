/*
 * The floor of any milter: a do-nothing milter in C against libmilter (config passthrough-c).
 *
 * It asks for the whole message (envelope, headers, body) and accepts it, like bench/passthrough.py,
 * but with no Python at all: what it costs Postfix is what the milter protocol itself costs.
 * With -n it tells Postfix not to wait for replies to headers and body chunks, as govmilter does.
 * With -m it asks for the least a content milter can work with: no connect, HELO, DATA or
 * unknown-command events, and no reply to anything before end of message (a real milter could
 * then refuse nothing before it): the floor of any content milter. bench/run.py compiles it:
 *
 *     cc -O2 -o passthrough-c bench/passthrough.c -lmilter -pthread
 *     ./passthrough-c -p unix:/tmp/x.sock [-n | -m]
 */
#include <libmilter/mfapi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int no_replies = 0;
static int minimal = 0;

static sfsistat on_envfrom(SMFICTX *ctx, char **argv)
{
    return minimal ? SMFIS_NOREPLY : SMFIS_CONTINUE;
}

static sfsistat on_envrcpt(SMFICTX *ctx, char **argv)
{
    return minimal ? SMFIS_NOREPLY : SMFIS_CONTINUE;
}

static sfsistat on_data(SMFICTX *ctx) { return SMFIS_CONTINUE; }
static sfsistat on_eoh(SMFICTX *ctx) { return no_replies ? SMFIS_NOREPLY : SMFIS_CONTINUE; }
static sfsistat on_eom(SMFICTX *ctx) { return SMFIS_ACCEPT; }
static sfsistat on_abort(SMFICTX *ctx) { return SMFIS_CONTINUE; }
static sfsistat on_close(SMFICTX *ctx) { return SMFIS_CONTINUE; }

static sfsistat on_header(SMFICTX *ctx, char *name, char *value)
{
    return no_replies ? SMFIS_NOREPLY : SMFIS_CONTINUE;
}

static sfsistat on_body(SMFICTX *ctx, unsigned char *chunk, size_t size)
{
    return no_replies ? SMFIS_NOREPLY : SMFIS_CONTINUE;
}

/* -n: no reply to headers, end of headers and body chunks (when the MTA offers it); -m: no
 * events but envelope and content, and no reply before end of message; neither: every step. */
static sfsistat on_negotiate(SMFICTX *ctx, unsigned long f0, unsigned long f1, unsigned long f2,
                             unsigned long f3, unsigned long *pf0, unsigned long *pf1,
                             unsigned long *pf2, unsigned long *pf3)
{
    unsigned long wanted = SMFIP_NR_HDR | SMFIP_NR_EOH | SMFIP_NR_BODY;
    unsigned long least = wanted | SMFIP_NOCONNECT | SMFIP_NOHELO | SMFIP_NOUNKNOWN |
                          SMFIP_NODATA | SMFIP_NR_MAIL | SMFIP_NR_RCPT;
    *pf0 = f0;
    *pf1 = minimal ? (f1 & least) : no_replies ? (f1 & wanted) : 0;
    *pf2 = 0;
    *pf3 = 0;
    return SMFIS_CONTINUE;
}

int main(int argc, char **argv)
{
    struct smfiDesc desc;
    const char *spec = NULL;
    int opt;

    while ((opt = getopt(argc, argv, "p:nm")) != -1) {
        if (opt == 'p')
            spec = optarg;
        else if (opt == 'n')
            no_replies = 1;
        else if (opt == 'm')
            minimal = no_replies = 1;
        else
            return 2;
    }
    if (spec == NULL) {
        fprintf(stderr, "usage: %s -p unix:/path/to.sock [-n | -m]\n", argv[0]);
        return 2;
    }
    memset(&desc, 0, sizeof desc);
    desc.xxfi_name = "passthrough-c";
    desc.xxfi_version = SMFI_VERSION;
    desc.xxfi_envfrom = on_envfrom;
    desc.xxfi_envrcpt = on_envrcpt;
    desc.xxfi_data = on_data;
    desc.xxfi_header = on_header;
    desc.xxfi_eoh = on_eoh;
    desc.xxfi_body = on_body;
    desc.xxfi_eom = on_eom;
    desc.xxfi_abort = on_abort;
    desc.xxfi_close = on_close;
    desc.xxfi_negotiate = on_negotiate;
    umask(0); /* the socket must be writable by Postfix's user; the benchmark runs as root */
    if (smfi_setconn((char *)spec) == MI_FAILURE || smfi_register(desc) == MI_FAILURE) {
        fprintf(stderr, "passthrough-c: cannot set up %s\n", spec);
        return 1;
    }
    return smfi_main() == MI_SUCCESS ? 0 : 1;
}
