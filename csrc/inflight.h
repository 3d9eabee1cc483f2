/*
 * The in-flight table: the pings sent and not yet answered, keyed by id.
 *
 * An id is 64 random bits from the kernel's CSPRNG, written as 16 lowercase
 * hex digits; or one the application gave (slixmpp's xmpp.new_id(), when
 * overridden), kept as its UTF-8 and keyed by a hash of it.  Entries live in an open-addressing hash table (O(1) insert,
 * lookup and removal, the key mixed with a random per-table seed so that a
 * peer cannot aim ids at one bucket) and in an indexed binary min-heap of
 * deadlines (O(log n) insert and removal, earliest first, ties in insertion
 * order), so one event-loop timer serves every ping.
 *
 * The table owns the entries' memory, not the Python objects they point to:
 * whoever removes an entry releases its references before inflight_release().
 */
#ifndef SLIXMPP_PING_C_INFLIGHT_H
#define SLIXMPP_PING_C_INFLIGHT_H

#include <Python.h>
#include <stddef.h>
#include <stdint.h>

#define INFLIGHT_ID_LEN 16

typedef struct PingEntry {
    uint64_t key;
    double sent_at;         /* monotonic seconds */
    double deadline;        /* monotonic seconds */
    PyObject *future;       /* owned by the user of the table */
    PyObject *peer;         /* owned by the user of the table */
    /* One pointer for two uses (an entry per ping in flight: 8 bytes
       each): an entry on the free list is out of the table, its Python
       fields NULL. */
    union {
        PyObject *context;  /* owned by the user of the table, or NULL */
        struct PingEntry *next_free;    /* private: on the free list */
    };
    int flags;              /* free for the user of the table */
    uint32_t given_len;     /* beside flags: no padding */
    char *given_id;         /* the id the application gave, or NULL */
    /* private */
    uint64_t seq;
    size_t heap_index;
} PingEntry;

typedef struct {
    /* private */
    PingEntry **slots;      /* hash slots: NULL, a tombstone, or an entry */
    size_t slots_cap;       /* a power of two */
    size_t used;            /* entries + tombstones */
    size_t count;           /* entries */
    uint64_t seed;
    PingEntry **heap;
    size_t heap_cap;
    uint64_t next_seq;
    PingEntry *free_list;
    size_t free_count;
    size_t given_count;     /* entries with a given id */
    unsigned char random[512];
    size_t random_pos;
} InFlight;

/* 0 on success, -1 with a Python exception set. */
int inflight_init(InFlight *t);
/* Frees the table's memory; the entries must have been released. */
void inflight_free(InFlight *t);

/* A fresh key no entry has; -1 with a Python exception set if the CSPRNG
   fails. */
int inflight_new_key(InFlight *t, uint64_t *key);
/* Writes INFLIGHT_ID_LEN hex digits (no terminator). */
void inflight_format_id(uint64_t key, char *out);
/* 1 and *key if s[0:n] is an id of ours in form, 0 otherwise. */
int inflight_parse_id(const char *s, size_t n, uint64_t *key);

/* A new entry for key with the given times, in the table and the heap; its
   Python fields are NULL and flags 0.  NULL with MemoryError set, or NULL
   with no exception if the key is already present. */
PingEntry *inflight_add(InFlight *t, uint64_t key, double sent_at,
                        double deadline);
/* The entry for key, or NULL. */
PingEntry *inflight_find(const InFlight *t, uint64_t key);
/* inflight_add() for an id the application gave (a copy of id[0:n] is
   kept); NULL with no exception if that id is in flight already, with
   OverflowError if it is 4 GiB or longer. */
PingEntry *inflight_add_given(InFlight *t, const char *id, size_t n,
                              double sent_at, double deadline);
/* The entry whose id, ours or given, is s[0:n], or NULL. */
PingEntry *inflight_find_id(const InFlight *t, const char *s, size_t n);
/* Takes the entry out of the table and the heap (it stays allocated). */
void inflight_remove(InFlight *t, PingEntry *e);
/* Gives a removed entry's memory back; its Python fields must be NULL. */
void inflight_release(InFlight *t, PingEntry *e);
/* The entry with the earliest deadline, or NULL when empty. */
PingEntry *inflight_earliest(const InFlight *t);
size_t inflight_count(const InFlight *t);
/* Calls fn for each entry (any order); fn must not change the table. */
void inflight_foreach(const InFlight *t, void (*fn)(PingEntry *, void *),
                      void *arg);

#endif
