/*
 * Serialization of the two stanzas the fast path writes: a ping request and
 * the result that answers one.  Attribute values are escaped so that any
 * string XML can carry parses back to itself.
 */
#ifndef SLIXMPP_PING_C_SERIALIZE_H
#define SLIXMPP_PING_C_SERIALIZE_H

#include <stddef.h>

#include "buf.h"

/*
 * 1 if the UTF-8 string s holds only characters XML 1.0 allows in an
 * attribute value and no character an XML parser would normalize away
 * (tab, line feed, carriage return), 0 otherwise.
 */
int xml_attr_value_is_plain(Str s);
/* The same for element text, where tab and line feed survive parsing. */
int xml_text_is_plain(Str s);
/* 1 if s holds only characters XML 1.0 allows, 0 otherwise. */
int xml_chars_are_valid(Str s);

/* <iq type="get" id=.. to=.. [from=..]><ping xmlns="urn:xmpp:ping" /></iq> */
int serialize_ping(Buf *b, Str id, Str to, Str from);
/* <iq type="result" id=.. [xml:lang=..] [to=..] [from=..] />, or with
   text, <iq ...>text</iq> */
int serialize_result(Buf *b, Str id, Str to, Str from, Str lang, Str text);

#endif
