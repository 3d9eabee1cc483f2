/*
 * The in-flight table; see inflight.h.
 *
 * Hash slots hold entry pointers, so a key needs no sentinel value: an empty
 * slot is NULL and a removed one is TOMBSTONE, the address of a constant
 * that is never an entry.  The heap's length is the table's count, since
 * every entry is in both.
 */
#define PY_SSIZE_T_CLEAN
#include "inflight.h"

#include <errno.h>
#include <string.h>
#include <sys/random.h>

#define INITIAL_SLOTS 16        /* a power of two */
#define INITIAL_HEAP 16
#define FREE_LIST_MAX 1024      /* released entries kept for reuse */
#define NOT_IN_HEAP SIZE_MAX    /* heap_index of an entry not in the table */

/* Only its address is used; it is never read or written through. */
static const PingEntry tombstone_entry = {.key = 0};
#define TOMBSTONE ((PingEntry *)&tombstone_entry)


/* Random bytes */

static int
refill_random(InFlight *t)
{
    size_t got = 0;

    while (got < sizeof(t->random)) {
        ssize_t n = getrandom(t->random + got, sizeof(t->random) - got, 0);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            PyErr_SetFromErrno(PyExc_OSError);
            return -1;
        }
        got += (size_t)n;
    }
    /* Only a full buffer counts: a failure above leaves it marked spent. */
    t->random_pos = 0;
    return 0;
}

static int
draw_u64(InFlight *t, uint64_t *out)
{
    if (t->random_pos > sizeof(t->random) - sizeof(*out)
        && refill_random(t) < 0)
    {
        return -1;
    }
    memcpy(out, t->random + t->random_pos, sizeof(*out));
    t->random_pos += sizeof(*out);
    return 0;
}


/* Hashing */

/* The splitmix64 finalizer: every key bit moves every slot-index bit, so
   the low bits the mask keeps depend on the whole key and the seed. */
static inline uint64_t
mix64(uint64_t z)
{
    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
    return z ^ (z >> 31);
}

static inline size_t
home_slot(const InFlight *t, uint64_t key)
{
    return (size_t)mix64(key ^ t->seed) & (t->slots_cap - 1);
}

/* Moves the entries into a fresh array of new_cap slots, dropping the
   tombstones.  On failure the table is unchanged. */
static int
rebuild(InFlight *t, size_t new_cap)
{
    PingEntry **old = t->slots;
    size_t old_cap = t->slots_cap;
    size_t mask = new_cap - 1;
    PingEntry **slots = PyMem_Calloc(new_cap, sizeof(PingEntry *));

    if (slots == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    t->slots = slots;
    t->slots_cap = new_cap;
    for (size_t j = 0; j < old_cap; j++) {
        PingEntry *e = old[j];
        if (e == NULL || e == TOMBSTONE) {
            continue;
        }
        size_t i = home_slot(t, e->key);
        while (slots[i] != NULL) {
            i = (i + 1) & mask;
        }
        slots[i] = e;
    }
    t->used = t->count;
    PyMem_Free(old);
    return 0;
}

/* The capacity a rebuild should have: the entries, one more included, fill
   at most 3/8 of it, so that the next rebuild is at least cap/8 insertions
   away (see inflight_add): O(1) amortized, and growing takes the table from
   half full to a quarter (a quarter, the bound before, made it an eighth:
   8 slots, 64 bytes, per ping in flight). 0 if it cannot be allocated. */
static size_t
rebuild_cap(const InFlight *t)
{
    size_t cap = t->slots_cap;

    while ((t->count + 1) * 8 > cap * 3) {
        if (cap > (size_t)PY_SSIZE_T_MAX / sizeof(PingEntry *) / 2) {
            return 0;
        }
        cap *= 2;
    }
    return cap;
}


/* The heap, ordered by (deadline, seq) */

static inline int
earlier(const PingEntry *a, const PingEntry *b)
{
    return a->deadline < b->deadline
           || (a->deadline == b->deadline && a->seq < b->seq);
}

/* Puts e at hole i or above it (a hole: heap[i] is to be overwritten). */
static void
sift_up(PingEntry **heap, size_t i, PingEntry *e)
{
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (!earlier(e, heap[parent])) {
            break;
        }
        heap[i] = heap[parent];
        heap[i]->heap_index = i;
        i = parent;
    }
    heap[i] = e;
    e->heap_index = i;
}

/* Puts e at hole i or below it (or above, if it must), in a heap of n
   entries.  The hole goes down to a leaf by the earlier child (one
   comparison a level), then e rises from there: e usually comes from the
   bottom and belongs near it, so this takes about half the comparisons of
   stopping on the way down. */
static void
sift_down(PingEntry **heap, size_t n, size_t i, PingEntry *e)
{
    size_t child;

    while ((child = 2 * i + 1) < n) {
        if (child + 1 < n && earlier(heap[child + 1], heap[child])) {
            child++;
        }
        heap[i] = heap[child];
        heap[i]->heap_index = i;
        i = child;
    }
    sift_up(heap, i, e);
}

static int
grow_heap(InFlight *t)
{
    size_t cap = t->heap_cap ? t->heap_cap * 2 : INITIAL_HEAP;
    PingEntry **heap;

    if (cap > (size_t)PY_SSIZE_T_MAX / sizeof(PingEntry *)) {
        PyErr_NoMemory();
        return -1;
    }
    heap = PyMem_Realloc(t->heap, cap * sizeof(PingEntry *));
    if (heap == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    t->heap = heap;
    t->heap_cap = cap;
    return 0;
}


/* The table */

int
inflight_init(InFlight *t)
{
    memset(t, 0, sizeof(*t));
    t->random_pos = sizeof(t->random);
    if (draw_u64(t, &t->seed) < 0) {
        return -1;
    }
    t->slots = PyMem_Calloc(INITIAL_SLOTS, sizeof(PingEntry *));
    t->heap = PyMem_Malloc(INITIAL_HEAP * sizeof(PingEntry *));
    if (t->slots == NULL || t->heap == NULL) {
        inflight_free(t);
        PyErr_NoMemory();
        return -1;
    }
    t->slots_cap = INITIAL_SLOTS;
    t->heap_cap = INITIAL_HEAP;
    return 0;
}

void
inflight_free(InFlight *t)
{
    PingEntry *e, *next;

    /* Entries still in the table are a bug of the user's, but not one to
       crash on: free their memory and leave their Python fields alone. */
    if (t->slots != NULL) {
        for (size_t j = 0; j < t->slots_cap; j++) {
            e = t->slots[j];
            if (e != NULL && e != TOMBSTONE) {
                PyMem_Free(e->given_id);
                PyMem_Free(e);
            }
        }
    }
    PyMem_Free(t->slots);
    PyMem_Free(t->heap);
    for (e = t->free_list; e != NULL; e = next) {
        next = e->next_free;
        PyMem_Free(e);
    }
    /* Empty and safe to free again; drawing would refill the buffer. */
    memset(t, 0, sizeof(*t));
    t->random_pos = sizeof(t->random);
}

int
inflight_new_key(InFlight *t, uint64_t *key)
{
    uint64_t k;

    /* Never 0, so that a user may take 0 for "no key". */
    do {
        if (draw_u64(t, &k) < 0) {
            return -1;
        }
    } while (k == 0 || inflight_find(t, k) != NULL);
    *key = k;
    return 0;
}

void
inflight_format_id(uint64_t key, char *out)
{
    static const char digits[] = "0123456789abcdef";

    for (size_t i = INFLIGHT_ID_LEN; i > 0; i--) {
        out[i - 1] = digits[key & 0xf];
        key >>= 4;
    }
}

/* Each byte's hex value, or 16 for a byte that is not an ASCII digit or
   lowercase letter a-f (upper case too: one key, one id string).  A table
   rather than tests, since digits and letters mix at random in an id. */
static const unsigned char hex_value[256] = {
    16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16,
    16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16,
    16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16,
     0,  1,  2,  3,  4,  5,  6,  7,  8,  9, 16, 16, 16, 16, 16, 16,
    16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16,
    16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16,
    16, 10, 11, 12, 13, 14, 15, 16, 16, 16, 16, 16, 16, 16, 16, 16,
    16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16,
    16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16,
    16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16,
    16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16,
    16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16,
    16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16,
    16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16,
    16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16,
    16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16,
};

int
inflight_parse_id(const char *s, size_t n, uint64_t *key)
{
    uint64_t k = 0;
    unsigned int bad = 0;

    if (n != INFLIGHT_ID_LEN) {
        return 0;
    }
    for (size_t i = 0; i < INFLIGHT_ID_LEN; i++) {
        unsigned int v = hex_value[(unsigned char)s[i]];
        bad |= v;
        k = (k << 4) | (v & 0xf);
    }
    if (bad & 16) {
        return 0;
    }
    *key = k;
    return 1;
}

PingEntry *
inflight_add(InFlight *t, uint64_t key, double sent_at, double deadline)
{
    size_t mask = t->slots_cap - 1;
    size_t i = home_slot(t, key);
    size_t spot = SIZE_MAX;     /* the first tombstone on the probe */
    PingEntry *s, *e;

    while ((s = t->slots[i]) != NULL) {
        if (s == TOMBSTONE) {
            if (spot == SIZE_MAX) {
                spot = i;
            }
        }
        else if (s->key == key) {
            return NULL;
        }
        i = (i + 1) & mask;
    }

    /* Whatever can fail comes before the table changes. */
    if (t->count == t->heap_cap && grow_heap(t) < 0) {
        return NULL;
    }
    if (spot == SIZE_MAX) {
        /* Slots in use (entries and tombstones) stay at most half the
           table, so probes stay short and one slot is always empty.  When
           taking an empty slot would pass that, rebuild: at the same size
           when tombstones filled it, so that insert/remove churn costs
           O(1) amortized and the table grows only with the count. */
        if ((t->used + 1) * 2 > t->slots_cap) {
            size_t cap = rebuild_cap(t);
            if (cap == 0) {
                PyErr_NoMemory();
                return NULL;
            }
            if (rebuild(t, cap) < 0) {
                return NULL;
            }
            /* A rebuilt table has no tombstones: take the first empty. */
            mask = t->slots_cap - 1;
            i = home_slot(t, key);
            while (t->slots[i] != NULL) {
                i = (i + 1) & mask;
            }
        }
        spot = i;
    }
    if (t->free_list != NULL) {
        e = t->free_list;
        t->free_list = e->next_free;
        t->free_count--;
    }
    else {
        e = PyMem_Malloc(sizeof(PingEntry));
        if (e == NULL) {
            PyErr_NoMemory();
            return NULL;
        }
    }

    e->key = key;
    e->sent_at = sent_at;
    e->deadline = deadline;
    e->future = NULL;
    e->peer = NULL;
    e->context = NULL;
    e->flags = 0;
    e->given_id = NULL;
    e->given_len = 0;
    e->seq = t->next_seq++;
    if (t->slots[spot] == NULL) {
        t->used++;
    }
    t->slots[spot] = e;
    sift_up(t->heap, t->count, e);
    t->count++;
    return e;
}

PingEntry *
inflight_find(const InFlight *t, uint64_t key)
{
    size_t mask, i;
    PingEntry *s;

    /* Also keeps a zeroed or freed table safe to ask. */
    if (t->count == 0) {
        return NULL;
    }
    mask = t->slots_cap - 1;
    i = home_slot(t, key);
    while ((s = t->slots[i]) != NULL) {
        if (s != TOMBSTONE && s->key == key) {
            return s;
        }
        i = (i + 1) & mask;
    }
    return NULL;
}

/* FNV-1a: a given id's key.  Peers cannot aim it at a slot: home_slot()
   mixes in the table's secret seed. */
static uint64_t
given_key(const char *s, size_t n)
{
    uint64_t h = UINT64_C(0xcbf29ce484222325);

    for (size_t i = 0; i < n; i++) {
        h = (h ^ (unsigned char)s[i]) * UINT64_C(0x100000001b3);
    }
    /* Never 0, as for ours. */
    return h != 0 ? h : 1;
}

PingEntry *
inflight_add_given(InFlight *t, const char *id, size_t n, double sent_at,
                   double deadline)
{
    if (n >= UINT32_MAX) {
        PyErr_SetString(PyExc_OverflowError, "ping id too long");
        return NULL;
    }
    /* n + 1: PyMem_Malloc(0) may give NULL. */
    char *copy = PyMem_Malloc(n + 1);
    if (copy == NULL) {
        PyErr_NoMemory();
        return NULL;
    }
    if (n > 0) {
        memcpy(copy, id, n);
    }
    /* A key taken already is this id in flight, or (with odds of 2**-64)
       another id of the same hash: either way, not two entries. */
    PingEntry *e = inflight_add(t, given_key(id, n), sent_at, deadline);
    if (e == NULL) {
        PyMem_Free(copy);
        return NULL;
    }
    e->given_id = copy;
    e->given_len = (uint32_t)n;
    t->given_count++;
    return e;
}

PingEntry *
inflight_find_id(const InFlight *t, const char *s, size_t n)
{
    uint64_t key;
    PingEntry *e;

    /* Given ids are rare: the common case costs one test. */
    if (t->given_count > 0) {
        e = inflight_find(t, given_key(s, n));
        if (e != NULL && e->given_id != NULL && e->given_len == n
            && memcmp(e->given_id, s, n) == 0) {
            return e;
        }
    }
    if (!inflight_parse_id(s, n, &key)) {
        return NULL;
    }
    e = inflight_find(t, key);
    return e != NULL && e->given_id == NULL ? e : NULL;
}

void
inflight_remove(InFlight *t, PingEntry *e)
{
    size_t mask = t->slots_cap - 1;
    size_t idx = e->heap_index;
    size_t i, last;

    /* An entry not in this table (removed twice, say) is left alone. */
    if (idx >= t->count || t->heap[idx] != e) {
        /* cppcheck-suppress incorrectStringBooleanError ; assert's message */
        assert(0 && "inflight_remove: entry not in the table");
        return;
    }

    i = home_slot(t, e->key);
    while (t->slots[i] != e) {
        i = (i + 1) & mask;
    }
    if (t->slots[(i + 1) & mask] == NULL) {
        /* No probe goes on past i, so i and the tombstones just before it
           can be empty again.  This stops: slot i is now NULL. */
        do {
            t->slots[i] = NULL;
            t->used--;
            i = (i - 1) & mask;
        } while (t->slots[i] == TOMBSTONE);
    }
    else {
        t->slots[i] = TOMBSTONE;
    }

    last = t->count - 1;
    t->count = last;
    if (idx != last) {
        PingEntry *moved = t->heap[last];
        if (idx > 0 && earlier(moved, t->heap[(idx - 1) / 2])) {
            sift_up(t->heap, idx, moved);
        }
        else {
            sift_down(t->heap, last, idx, moved);
        }
    }
    e->heap_index = NOT_IN_HEAP;
}

void
inflight_release(InFlight *t, PingEntry *e)
{
    assert(e->future == NULL && e->peer == NULL && e->context == NULL);
    /* Reusing an entry still in the table would corrupt it: a bug of the
       user's, but one to survive. */
    if (e->heap_index != NOT_IN_HEAP) {
        /* cppcheck-suppress incorrectStringBooleanError ; assert's message */
        assert(0 && "inflight_release: entry still in the table");
        inflight_remove(t, e);
    }
    if (e->given_id != NULL) {
        PyMem_Free(e->given_id);
        e->given_id = NULL;
        t->given_count--;
    }
    if (t->free_count < FREE_LIST_MAX) {
        e->next_free = t->free_list;
        t->free_list = e;
        t->free_count++;
    }
    else {
        PyMem_Free(e);
    }
}

PingEntry *
inflight_earliest(const InFlight *t)
{
    return t->count > 0 ? t->heap[0] : NULL;
}

size_t
inflight_count(const InFlight *t)
{
    return t->count;
}

void
inflight_foreach(const InFlight *t, void (*fn)(PingEntry *, void *),
                 void *arg)
{
    for (size_t j = 0; j < t->slots_cap; j++) {
        PingEntry *e = t->slots[j];
        if (e != NULL && e != TOMBSTONE) {
            fn(e, arg);
        }
    }
}
