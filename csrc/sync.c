/* Joining a stream mid-way: the pure part (sync.h). */
#include "sync.h"

#include <string.h>

/* The qualified name taken for the stream root's end tag; with another
   prefix the scanner fails there, as the stream ends. */
static const char SYNC_ROOT[] = "stream:stream";

int
sync_resume(Framer *f)
{
    if (scanner_resume_in_root(&f->scanner, SYNC_ROOT,
                               sizeof(SYNC_ROOT) - 1) < 0) {
        return -1;
    }
    f->scanner.strict = 1;
    f->scanner.report_open = 1;
    return 0;
}

void
sync_follow(Framer *f)
{
    f->scanner.strict = 0;
    f->scanner.report_open = 0;
}

SyncState
sync_first_tag(const Framer *f, size_t n_events, FirstTag *tag)
{
    size_t lt = SIZE_MAX, name_end = 0;
    for (size_t i = 0; i < n_events; i++) {
        const FrameEvent *ev = &f->events[i];
        switch (ev->kind) {
        case SCAN_STANZA_START:
            /* A tag begun in an earlier read is not checked whole. */
            lt = ev->flag ? SIZE_MAX : ev->pos - 1;
            break;
        case SCAN_STANZA_NAME:
            name_end = ev->pos;
            break;
        case SCAN_STANZA_OPEN:
            if (lt == SIZE_MAX || name_end <= lt + 1) {
                return SYNC_SEEK;
            }
            tag->lt = lt;
            tag->end = ev->pos;
            tag->name_len = name_end - lt - 1;
            return SYNC_SETTLE;
        default:
            /* An empty-element stanza, or the end of the stream. */
            return SYNC_SEEK;
        }
    }
    return SYNC_OPEN;
}

static int
contains(const char *p, size_t n, const char *lit)
{
    size_t k = strlen(lit);
    for (size_t i = 0; i + k <= n; i++) {
        if (memcmp(p + i, lit, k) == 0) {
            return 1;
        }
    }
    return 0;
}

int
sync_tag_is_plain(const char *buf, const FirstTag *tag)
{
    const char *p = buf + tag->lt;
    return memchr(p + 1, ':', tag->name_len) == NULL
           && !contains(p, tag->end - tag->lt, "xmlns");
}

int
sync_expected_name(Buf *out, const Buf *ns, const char *buf,
                   const FirstTag *tag)
{
    out->len = 0;
    return buf_append(out, "{", 1) < 0
           || buf_append(out, ns->data, ns->len) < 0
           || buf_append(out, "}", 1) < 0
           || buf_append(out, buf + tag->lt + 1, tag->name_len) < 0 ? -1 : 0;
}

int
sync_header(Buf *out, const Buf *ns)
{
    for (size_t i = 0; i < ns->len; i++) {
        if (ns->data[i] == '\'' || ns->data[i] == '&' || ns->data[i] == '<') {
            return -1;
        }
    }
    out->len = 0;
    return buf_append(out, "<stream xmlns='", 15) < 0
           || buf_append(out, ns->data, ns->len) < 0
           || buf_append(out, "'>", 2) < 0 ? -1 : 0;
}
