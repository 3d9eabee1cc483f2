#include "stanza.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/parser.h>
#include <libxml/xmlerror.h>

/* libxml2 2.12 made the error handed to a structured handler const. */
#if LIBXML_VERSION >= 21200
typedef const xmlError *ReportedError;
#else
typedef xmlErrorPtr ReportedError;
#endif

/* The dictionary of a libxml2 parser keeps every name and namespace URI it
   has seen; starting afresh now and then bounds what a peer can make it
   hold. */
#define PARSES_PER_CONTEXT 4096

static const char NEUTRAL_ROOT[] = "<root>";
static const char XML_NS[] = "http://www.w3.org/XML/1998/namespace";

/* Pushed after each stanza and after the root.  Until more input comes,
   libxml2 keeps to itself what it cannot judge yet (text after the element,
   an unfinished comment or tag, a last CR); once this processing
   instruction has come through, it has parsed every byte before it.  Any
   other processing instruction beside the stanzas is refused, so the
   input cannot forge it. */
static const char SENTINEL[] = "<?parsed?>";
static const char SENTINEL_TARGET[] = "parsed";
/* push()'s buffer is kept between stanzas up to this size. */
#define MAX_KEPT_CHUNK ((size_t)64 * 1024)

/* A string copied into the arena, by offset, since the arena may move. */
typedef struct {
    size_t off, len;
    int present;
} Slot;

enum {
    SLOT_NAME, SLOT_NS, SLOT_TYPE, SLOT_ID, SLOT_FROM, SLOT_TO, SLOT_LANG,
    SLOT_LEAD, SLOT_CHILD_NAME, SLOT_CHILD_NS, SLOT_COUNT
};

struct StanzaParser {
    xmlParserCtxtPtr ctxt;
    xmlSAXHandler sax;
    Buf root;           /* the root start tag, to begin again after errors */
    int ready;          /* the root has been parsed and no error since */
    size_t parses;
    /* the stanza being parsed */
    size_t depth;       /* open elements, the root included */
    int failed;
    int elements;       /* elements started at the stanza's level */
    int complete;       /* the stanza's end tag was seen */
    int stray_text;     /* non-whitespace text around the stanza */
    int in_first_child;
    int awaiting_sentinel;
    int sentinel_seen;
    Slot slots[SLOT_COUNT];
    int other_attrs, children, text, child_children;
    Buf arena;
    Buf chunk;          /* what push() hands libxml2 */
};

static int
is_blank(const xmlChar *s, int len)
{
    for (int i = 0; i < len; i++) {
        if (s[i] != ' ' && s[i] != '\t' && s[i] != '\n' && s[i] != '\r') {
            return 0;
        }
    }
    return 1;
}

static int
equals(const xmlChar *s, const char *lit)
{
    return s != NULL && strcmp((const char *)s, lit) == 0;
}

static void
keep(StanzaParser *p, int slot, const xmlChar *s, size_t len)
{
    Slot *k = &p->slots[slot];
    k->off = p->arena.len;
    k->present = 1;
    if (buf_append(&p->arena, (const char *)s, len) < 0) {
        p->failed = 1;
        return;
    }
    k->len = len;
}

/* Keeps an attribute value.  Without entity substitution libxml2 hands an
   attribute's '&' (written "&amp;" or "&#38;") over as "&#38;", and never a
   bare '&', so turning each "&#38;" back into '&' is exact.  2.9 to 2.15
   alike (xmlParseAttValueInternal); tests/test_libxml2.py checks it. */
static void
keep_value(StanzaParser *p, int slot, const xmlChar *s, size_t len)
{
    static const char AMP[] = "&#38;";
    const size_t amp_len = sizeof(AMP) - 1;
    keep(p, slot, s, len);
    if (p->failed || memchr(s, '&', len) == NULL) {
        return;
    }
    Slot *k = &p->slots[slot];
    char *v = p->arena.data + k->off;
    size_t out = 0;
    for (size_t i = 0; i < k->len; ) {
        if (k->len - i >= amp_len && memcmp(v + i, AMP, amp_len) == 0) {
            v[out++] = '&';
            i += amp_len;
        }
        else {
            v[out++] = v[i++];
        }
    }
    k->len = out;
    p->arena.len = k->off + out;
}

static void
on_start(void *ctx, const xmlChar *localname, const xmlChar *prefix,
         const xmlChar *uri, int nb_namespaces, const xmlChar **namespaces,
         int nb_attributes, int nb_defaulted, const xmlChar **attributes)
{
    (void)prefix;
    (void)nb_namespaces;
    (void)namespaces;
    (void)nb_defaulted;
    StanzaParser *p = ctx;
    p->depth++;
    if (p->depth == 3) {
        p->children++;
        p->in_first_child = p->children == 1;
        if (p->in_first_child) {
            keep(p, SLOT_CHILD_NAME, localname,
                 strlen((const char *)localname));
            if (uri != NULL) {
                keep(p, SLOT_CHILD_NS, uri, strlen((const char *)uri));
            }
        }
        return;
    }
    if (p->depth == 4 && p->in_first_child) {
        p->child_children++;
        return;
    }
    if (p->depth != 2) {
        return;
    }
    if (++p->elements > 1) {
        return;
    }
    keep(p, SLOT_NAME, localname, strlen((const char *)localname));
    if (uri != NULL) {
        keep(p, SLOT_NS, uri, strlen((const char *)uri));
    }
    for (int i = 0; i < nb_attributes; i++) {
        const xmlChar **a = attributes + (ptrdiff_t)5 * i;
        const xmlChar *name = a[0], *attr_uri = a[2];
        size_t len = (size_t)(a[4] - a[3]);
        int slot = -1;
        if (attr_uri == NULL) {
            slot = equals(name, "type") ? SLOT_TYPE
                   : equals(name, "id") ? SLOT_ID
                   : equals(name, "from") ? SLOT_FROM
                   : equals(name, "to") ? SLOT_TO : -1;
        }
        else if (equals(attr_uri, XML_NS) && equals(name, "lang")) {
            slot = SLOT_LANG;
        }
        if (slot < 0) {
            p->other_attrs = 1;
        }
        else {
            keep_value(p, slot, a[3], len);
        }
    }
}

static void
on_end(void *ctx, const xmlChar *localname, const xmlChar *prefix,
       const xmlChar *uri)
{
    (void)localname;
    (void)prefix;
    (void)uri;
    StanzaParser *p = ctx;
    if (p->depth == 3) {
        p->in_first_child = 0;
    }
    if (p->depth == 2) {
        p->complete = 1;
    }
    p->depth--;
}

static void
on_characters(void *ctx, const xmlChar *s, int len)
{
    StanzaParser *p = ctx;
    if (p->depth == 2 && p->children == 0) {
        /* The lead arrives in pieces, each appended to the arena's end,
           where nothing else is kept in between. */
        Slot *k = &p->slots[SLOT_LEAD];
        if (!k->present) {
            k->off = p->arena.len;
            k->present = 1;
        }
        if (buf_append(&p->arena, (const char *)s, (size_t)len) < 0) {
            p->failed = 1;
            return;
        }
        k->len += (size_t)len;
        return;
    }
    if (is_blank(s, len)) {
        return;
    }
    if (p->depth == 1) {
        p->stray_text = 1;
    }
    else if (p->depth == 2) {
        p->text = 1;
    }
}

static void
on_internal_subset(void *ctx, const xmlChar *name, const xmlChar *external_id,
                   const xmlChar *system_id)
{
    (void)name;
    (void)external_id;
    (void)system_id;
    StanzaParser *p = ctx;
    /* XMPP forbids DTDs; nothing in one may reach us. */
    p->failed = 1;
    xmlStopParser(p->ctxt);
}

static void
on_processing_instruction(void *ctx, const xmlChar *target,
                          const xmlChar *data)
{
    StanzaParser *p = ctx;
    if (p->depth != 1) {
        return;     /* in the prolog or within a stanza: ignored */
    }
    if (p->awaiting_sentinel && !p->sentinel_seen
        && equals(target, SENTINEL_TARGET) && (data == NULL || *data == 0)) {
        p->sentinel_seen = 1;
    }
    else {
        p->failed = 1;
    }
}

static xmlEntityPtr
on_get_entity(void *ctx, const xmlChar *name)
{
    (void)ctx;
    (void)name;
    /* Only the predefined entities, which libxml2 resolves itself. */
    return NULL;
}

static void
on_error(void *ctx, ReportedError error)
{
    StanzaParser *p = ctx;
    if (error == NULL || error->level >= XML_ERR_ERROR) {
        p->failed = 1;
    }
}

static void
drop_context(StanzaParser *p)
{
    if (p->ctxt != NULL) {
        xmlFreeParserCtxt(p->ctxt);
        p->ctxt = NULL;
    }
    p->ready = 0;
}

StanzaParser *
stanza_parser_new(void)
{
    /* Before any parser exists: libxml2 2.9 sets up its globals here. */
    xmlInitParser();
    StanzaParser *p = calloc(1, sizeof(*p));
    if (p == NULL) {
        return NULL;
    }
    xmlSAXHandler *sax = &p->sax;
    sax->initialized = XML_SAX2_MAGIC;
    sax->startElementNs = on_start;
    sax->endElementNs = on_end;
    sax->characters = on_characters;
    sax->cdataBlock = on_characters;
    sax->ignorableWhitespace = on_characters;
    sax->internalSubset = on_internal_subset;
    sax->getEntity = on_get_entity;
    sax->getParameterEntity = on_get_entity;
    sax->processingInstruction = on_processing_instruction;
    sax->serror = on_error;
    buf_init(&p->root);
    buf_init(&p->arena);
    buf_init(&p->chunk);
    return p;
}

void
stanza_parser_free(StanzaParser *p)
{
    if (p == NULL) {
        return;
    }
    drop_context(p);
    buf_free(&p->root);
    buf_free(&p->arena);
    buf_free(&p->chunk);
    free(p);
}

static void
clear_stanza(StanzaParser *p)
{
    p->failed = 0;
    p->elements = p->complete = p->stray_text = p->in_first_child = 0;
    p->other_attrs = p->children = p->text = p->child_children = 0;
    memset(p->slots, 0, sizeof(p->slots));
    p->arena.len = 0;
}

/* Feeds len bytes and the sentinel after them, in one chunk: 0 when
   libxml2 parsed all of them without an error, -1 otherwise.  The
   sentinel must be the first processing instruction beside the elements:
   one the data holds would come first, and ours after it is refused. */
static int
push(StanzaParser *p, const char *data, size_t len)
{
    p->chunk.len = 0;
    if (buf_append(&p->chunk, data, len) < 0
        || buf_append(&p->chunk, SENTINEL, sizeof(SENTINEL) - 1) < 0) {
        return -1;
    }
    p->awaiting_sentinel = 1;
    p->sentinel_seen = 0;
    int rc = xmlParseChunk(p->ctxt, p->chunk.data, (int)p->chunk.len, 0);
    p->awaiting_sentinel = 0;
    if (p->chunk.cap > MAX_KEPT_CHUNK) {
        buf_free(&p->chunk);
    }
    return rc == 0 && !p->failed && p->sentinel_seen ? 0 : -1;
}

/* Parses the saved root into a fresh or reset context. */
static int
start_context(StanzaParser *p)
{
    if (p->ctxt == NULL || p->parses >= PARSES_PER_CONTEXT) {
        drop_context(p);
        p->ctxt = xmlCreatePushParserCtxt(&p->sax, p, NULL, 0, NULL);
        if (p->ctxt == NULL) {
            return -1;
        }
        /* HUGE lifts libxml2's limits on the length of a value or of the
           input held (10 MB), which only guard against what the DOCTYPE
           we refuse could expand to.  Not NOERROR: since 2.13 it keeps
           errors from on_error too, and namespace errors are not fatal.
           Without NOENT and DTDLOAD, the options also undo any global
           default that substitutes entities or loads a DTD. */
        xmlCtxtUseOptions(p->ctxt, XML_PARSE_NONET | XML_PARSE_NOCDATA
                                   | XML_PARSE_HUGE);
    }
    else if (xmlCtxtResetPush(p->ctxt, NULL, 0, NULL, NULL) != 0) {
        drop_context(p);
        return -1;
    }
    p->parses = 0;
    p->depth = 0;
    clear_stanza(p);
    if (push(p, p->root.data, p->root.len) < 0 || p->depth != 1
        || p->elements != 0) {
        drop_context(p);
        return -1;
    }
    p->ready = 1;
    return 0;
}

int
stanza_parser_begin(StanzaParser *p, const char *root, size_t len)
{
    if (root == NULL) {
        root = NEUTRAL_ROOT;
        len = sizeof(NEUTRAL_ROOT) - 1;
    }
    p->root.len = 0;
    p->ready = 0;
    if (len > INT32_MAX || buf_append(&p->root, root, len) < 0) {
        return -1;
    }
    return start_context(p);
}

static Str
slot_str(const StanzaParser *p, int slot)
{
    const Slot *k = &p->slots[slot];
    Str s = {NULL, 0};
    if (k->present) {
        s.ptr = p->arena.data + k->off;
        s.len = k->len;
    }
    return s;
}

int
stanza_parse(StanzaParser *p, const char *span, size_t len, StanzaInfo *info)
{
    if (p->parses >= PARSES_PER_CONTEXT) {
        p->ready = 0;   /* start_context() makes a fresh context */
    }
    if (!p->ready && (p->root.len == 0 || start_context(p) < 0)) {
        return -1;
    }
    if (len > INT32_MAX) {
        return -1;
    }
    clear_stanza(p);
    p->parses++;
    if (push(p, span, len) < 0 || p->depth != 1 || p->elements != 1
        || !p->complete || p->stray_text) {
        /* The next stanza starts afresh from the root: libxml2 stops at a
           fatal error, and keeps to itself the bytes of a start tag it
           took for unfinished (<iq id="<"/>), which would go before the
           next stanza's. */
        p->ready = 0;
        return -1;
    }
    info->name = slot_str(p, SLOT_NAME);
    info->ns = slot_str(p, SLOT_NS);
    info->type = slot_str(p, SLOT_TYPE);
    info->id = slot_str(p, SLOT_ID);
    info->from = slot_str(p, SLOT_FROM);
    info->to = slot_str(p, SLOT_TO);
    info->lang = slot_str(p, SLOT_LANG);
    info->lead = slot_str(p, SLOT_LEAD);
    info->other_attrs = p->other_attrs;
    info->children = p->children;
    info->text = p->text;
    info->child_name = slot_str(p, SLOT_CHILD_NAME);
    info->child_ns = slot_str(p, SLOT_CHILD_NS);
    info->child_children = p->child_children;
    return 0;
}
