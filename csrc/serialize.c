#include "serialize.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define APPEND_LITERAL(b, lit) buf_append((b), (lit), sizeof(lit) - 1)

/* The code point of the UTF-8 sequence at s[*i], advancing *i; -1 when the
   bytes are not UTF-8 (Python and libxml2 only give us valid UTF-8, but the
   check costs little and keeps this file safe on its own). */
static int32_t
next_code_point(const unsigned char *s, size_t n, size_t *i)
{
    unsigned char c = s[*i];
    int32_t cp;
    size_t more;
    if (c < 0x80) {
        *i += 1;
        return c;
    }
    else if ((c & 0xE0) == 0xC0) {
        cp = c & 0x1F;
        more = 1;
    }
    else if ((c & 0xF0) == 0xE0) {
        cp = c & 0x0F;
        more = 2;
    }
    else if ((c & 0xF8) == 0xF0) {
        cp = c & 0x07;
        more = 3;
    }
    else {
        return -1;
    }
    if (n - *i <= more) {
        return -1;
    }
    for (size_t k = 1; k <= more; k++) {
        if ((s[*i + k] & 0xC0) != 0x80) {
            return -1;
        }
        cp = (cp << 6) | (s[*i + k] & 0x3F);
    }
    /* An overlong form is not UTF-8 (and could hide any character). */
    static const int32_t shortest[] = {0, 0x80, 0x800, 0x10000};
    if (cp < shortest[more]) {
        return -1;
    }
    *i += more + 1;
    return cp;
}

static int
is_xml_char(int32_t cp)
{
    return cp == 0x9 || cp == 0xA || cp == 0xD
           || (cp >= 0x20 && cp <= 0xD7FF)
           || (cp >= 0xE000 && cp <= 0xFFFD)
           || (cp >= 0x10000 && cp <= 0x10FFFF);
}

int
xml_chars_are_valid(Str s)
{
    const unsigned char *p = (const unsigned char *)s.ptr;
    size_t i = 0;
    while (i < s.len) {
        if (p[i] >= 0x20 && p[i] < 0x80) {
            i++;
            continue;
        }
        if (!is_xml_char(next_code_point(p, s.len, &i))) {
            return 0;
        }
    }
    return 1;
}

int
xml_attr_value_is_plain(Str s)
{
    const unsigned char *p = (const unsigned char *)s.ptr;
    for (size_t i = 0; i < s.len; i++) {
        if (p[i] < 0x20) {
            return 0;
        }
    }
    return xml_chars_are_valid(s);
}

int
xml_text_is_plain(Str s)
{
    const unsigned char *p = (const unsigned char *)s.ptr;
    for (size_t i = 0; i < s.len; i++) {
        if (p[i] < 0x20 && p[i] != '\t' && p[i] != '\n') {
            return 0;
        }
    }
    return xml_chars_are_valid(s);
}

/* Appends s escaped for a double-quoted attribute value.  Tab, line feed
   and carriage return become character references, which a parser does not
   normalize to spaces. */
static int
append_escaped(Buf *b, Str s)
{
    /* Six bytes per input byte is the worst case ("&quot;"). */
    if (s.len > SIZE_MAX / 6 || buf_reserve(b, s.len * 6) < 0) {
        return -1;
    }
    char *out = b->data + b->len;
    for (size_t i = 0; i < s.len; i++) {
        char c = s.ptr[i];
        const char *rep;
        switch (c) {
        case '&': rep = "&amp;"; break;
        case '<': rep = "&lt;"; break;
        case '>': rep = "&gt;"; break;
        case '"': rep = "&quot;"; break;
        case '\t': rep = "&#9;"; break;
        case '\n': rep = "&#10;"; break;
        case '\r': rep = "&#13;"; break;
        default:
            *out++ = c;
            continue;
        }
        size_t n = strlen(rep);
        /* Bytes into a length-counted buffer, not a C string. */
        memcpy(out, rep, n); /* NOLINT(bugprone-not-null-terminated-result) */
        out += n;
    }
    b->len = (size_t)(out - b->data);
    return 0;
}

/* Appends ` name="value"` when value is present. */
static int
append_attr(Buf *b, const char *name, size_t name_len, Str value)
{
    if (value.ptr == NULL) {
        return 0;
    }
    if (buf_append(b, " ", 1) < 0
        || buf_append(b, name, name_len) < 0
        || buf_append(b, "=\"", 2) < 0
        || append_escaped(b, value) < 0
        || buf_append(b, "\"", 1) < 0) {
        return -1;
    }
    return 0;
}

#define APPEND_ATTR(b, lit, value) append_attr((b), (lit), sizeof(lit) - 1, \
                                               (value))

int
serialize_ping(Buf *b, Str id, Str to, Str from)
{
    size_t start = b->len;
    if (APPEND_LITERAL(b, "<iq type=\"get\"") < 0
        || APPEND_ATTR(b, "id", id) < 0
        || APPEND_ATTR(b, "to", to) < 0
        || APPEND_ATTR(b, "from", from) < 0
        || APPEND_LITERAL(b, "><ping xmlns=\"urn:xmpp:ping\" /></iq>") < 0) {
        b->len = start;
        return -1;
    }
    return 0;
}

int
serialize_result(Buf *b, Str id, Str to, Str from, Str lang, Str text)
{
    size_t start = b->len;
    int rc = APPEND_LITERAL(b, "<iq type=\"result\"") < 0
             || APPEND_ATTR(b, "id", id) < 0
             || APPEND_ATTR(b, "xml:lang", lang) < 0
             || APPEND_ATTR(b, "to", to) < 0
             || APPEND_ATTR(b, "from", from) < 0;
    if (!rc && text.len == 0) {
        rc = APPEND_LITERAL(b, " />") < 0;
    }
    else if (!rc) {
        /* Attribute escaping is valid in text too. */
        rc = APPEND_LITERAL(b, ">") < 0 || append_escaped(b, text) < 0
             || APPEND_LITERAL(b, "</iq>") < 0;
    }
    if (rc) {
        b->len = start;
        return -1;
    }
    return 0;
}
