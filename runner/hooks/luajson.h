/*
 * luajson.h - convert between jansson values and Lua values, and make
 * read-only views of Lua tables for the hook API.
 *
 * JSON null is the light userdata drplan.json.null (dr_lua_push_null), so
 * that it survives inside tables. Objects become tables with string keys,
 * arrays tables with keys 1..n. Going back, a table whose keys are exactly
 * 1..n (n > 0) is an array, any other table an object (keys must then be
 * strings), so an empty table encodes as {}.
 *
 * Read-only views are empty proxy tables whose metatable reads from a
 * hidden backing table, refuses writes and is locked (__metatable), and
 * which iterate with pairs() and report # like the backing table. The
 * registry maps each proxy to its backing table so that our own C code
 * (json encoding, rawset guard) can see through it; scripts cannot.
 *
 * Every function here may raise a Lua error (memory); call them from Lua
 * functions or under a protected call.
 */
#ifndef DR_HOOKS_LUAJSON_H
#define DR_HOOKS_LUAJSON_H

#include <jansson.h>
#include <lua.h>
#include <stddef.h>

/* Nesting deeper than this is refused in both directions (also catches cycles). */
#define DR_LUAJSON_MAX_DEPTH 64

/* Create the registry tables this module needs; call once per state. */
void dr_lua_json_setup(lua_State *L);

void dr_lua_push_null(lua_State *L);
int dr_lua_is_null(lua_State *L, int idx);

/* Push j as a Lua value; with readonly, every table is a read-only view. */
void dr_lua_push_json(lua_State *L, const json_t *j, int readonly);

/*
 * Convert the value at idx. Returns a new reference, or NULL with a short
 * explanation in err ("cannot encode a function value", "nesting too deep
 * or cyclic", "string is not valid UTF-8", ...).
 */
json_t *dr_lua_to_json(lua_State *L, int idx, char *err, size_t errsize);

/* Replace the table at idx (absolute or relative) by a read-only view. */
void dr_lua_make_readonly(lua_State *L, int idx);
/* If the value at idx is a read-only view, push its backing table and
 * return 1; else push nothing and return 0. */
int dr_lua_readonly_backing(lua_State *L, int idx);

#endif
