/* The fast path's rules (rules.h). */
#include "rules.h"

#include <string.h>

/* A string literal and its length, counted once, by the compiler. */
typedef struct {
    const char *ptr;
    size_t len;
} Literal;

#define LITERAL(s) {s, sizeof(s) - 1}

#define ANY_CHILD {NULL, 0}

/* A rule that names a child matches a stanza whose only child element is
   that one, itself without child elements: a request of one payload. */
typedef struct {
    Literal name;       /* the element's local name */
    Literal type;       /* its type attribute */
    Literal child_ns;   /* its child's namespace URI, or ANY_CHILD */
    Literal child_name; /* its child's local name, or ANY_CHILD */
    Action action;
} FastPathRule;

static const FastPathRule rules[] = {
    {LITERAL("iq"), LITERAL("get"), LITERAL("urn:xmpp:ping"), LITERAL("ping"),
     ACT_ANSWER},
    {LITERAL("iq"), LITERAL("result"), ANY_CHILD, ANY_CHILD, ACT_PONG},
    {LITERAL("iq"), LITERAL("error"), ANY_CHILD, ANY_CHILD, ACT_PONG},
};

#define N_RULES (sizeof(rules) / sizeof(rules[0]))

static int
equals(const char *p, size_t n, Literal lit)
{
    return p != NULL && n == lit.len && memcmp(p, lit.ptr, n) == 0;
}

int
rules_hold(const char *name, size_t n)
{
    for (size_t i = 0; i < N_RULES; i++) {
        if (equals(name, n, rules[i].name)) {
            return 1;
        }
    }
    return 0;
}

static int
child_matches(const FastPathRule *r, const StanzaInfo *info)
{
    if (r->child_name.ptr == NULL) {
        return 1;
    }
    return info->children == 1 && info->child_children == 0
           && equals(info->child_ns.ptr, info->child_ns.len, r->child_ns)
           && equals(info->child_name.ptr, info->child_name.len,
                     r->child_name);
}

Action
rules_match(const StanzaInfo *info)
{
    for (size_t i = 0; i < N_RULES; i++) {
        const FastPathRule *r = &rules[i];
        if (equals(info->name.ptr, info->name.len, r->name)
            && equals(info->type.ptr, info->type.len, r->type)
            && child_matches(r, info)) {
            return r->action;
        }
    }
    return ACT_NONE;
}
