/* The fast path's rules (rules.h). */
#include "rules.h"

#include <string.h>

/* What the stanza's first child must be. */
typedef enum {
    CHILD_ANY,
    CHILD_PING          /* {urn:xmpp:ping}ping, with no child elements */
} ChildRule;

/* A string literal and its length, counted once, by the compiler. */
typedef struct {
    const char *ptr;
    size_t len;
} Literal;

#define LITERAL(s) {s, sizeof(s) - 1}

typedef struct {
    Literal name;       /* the element's local name */
    Literal type;       /* its type attribute */
    ChildRule child;
    Action action;
} FastPathRule;

static const FastPathRule rules[] = {
    {LITERAL("iq"), LITERAL("get"), CHILD_PING, ACT_ANSWER},
    {LITERAL("iq"), LITERAL("result"), CHILD_ANY, ACT_PONG},
    {LITERAL("iq"), LITERAL("error"), CHILD_ANY, ACT_PONG},
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
child_matches(ChildRule child, const StanzaInfo *info)
{
    return child == CHILD_ANY || (child == CHILD_PING && info->is_ping);
}

Action
rules_match(const StanzaInfo *info)
{
    for (size_t i = 0; i < N_RULES; i++) {
        const FastPathRule *r = &rules[i];
        if (equals(info->name.ptr, info->name.len, r->name)
            && equals(info->type.ptr, info->type.len, r->type)
            && child_matches(r->child, info)) {
            return r->action;
        }
    }
    return ACT_NONE;
}
