#include "hooks/luajson.h"

#include <lauxlib.h>
#include <math.h>
#include <stdio.h>

/* Registry keys: addresses unique to this file. */
static const char null_key;    /* the drplan.json.null light userdata */
static const char backing_key; /* weak-keyed proxy -> backing table */

void dr_lua_json_setup(lua_State *L)
{
	lua_newtable(L);
	lua_newtable(L);
	lua_pushliteral(L, "k");
	lua_setfield(L, -2, "__mode");
	lua_setmetatable(L, -2);
	lua_rawsetp(L, LUA_REGISTRYINDEX, &backing_key);
}

void dr_lua_push_null(lua_State *L)
{
	lua_pushlightuserdata(L, (void *)&null_key);
}

int dr_lua_is_null(lua_State *L, int idx)
{
	return lua_touserdata(L, idx) == (void *)&null_key &&
	       lua_type(L, idx) == LUA_TLIGHTUSERDATA;
}

static int ro_newindex(lua_State *L)
{
	if (lua_type(L, 2) == LUA_TSTRING)
		return luaL_error(L, "attempt to modify read-only table (field '%s')",
				  lua_tostring(L, 2));
	return luaL_error(L, "attempt to modify read-only table");
}

/* The iterator pairs() gets: walks the backing table (upvalue 1) but only
 * ever hands out the proxy, so the backing table stays hidden. */
static int ro_next(lua_State *L)
{
	lua_settop(L, 2);
	if (lua_next(L, lua_upvalueindex(1)))
		return 2;
	lua_pushnil(L);
	return 1;
}

static int ro_pairs(lua_State *L)
{
	if (!dr_lua_readonly_backing(L, 1))
		return luaL_error(L, "not a read-only table");
	lua_pushcclosure(L, ro_next, 1);
	lua_pushvalue(L, 1);
	lua_pushnil(L);
	return 3;
}

static int ro_len(lua_State *L)
{
	if (!dr_lua_readonly_backing(L, 1))
		return luaL_error(L, "not a read-only table");
	lua_pushinteger(L, (lua_Integer)lua_rawlen(L, -1));
	return 1;
}

void dr_lua_make_readonly(lua_State *L, int idx)
{
	idx = lua_absindex(L, idx);
	luaL_checkstack(L, 4, "read-only view");
	lua_newtable(L); /* proxy */
	lua_createtable(L, 0, 5); /* its metatable */
	lua_pushvalue(L, idx);
	lua_setfield(L, -2, "__index");
	lua_pushcfunction(L, ro_newindex);
	lua_setfield(L, -2, "__newindex");
	lua_pushcfunction(L, ro_pairs);
	lua_setfield(L, -2, "__pairs");
	lua_pushcfunction(L, ro_len);
	lua_setfield(L, -2, "__len");
	lua_pushliteral(L, "locked");
	lua_setfield(L, -2, "__metatable");
	lua_setmetatable(L, -2);
	lua_rawgetp(L, LUA_REGISTRYINDEX, &backing_key);
	lua_pushvalue(L, -2);
	lua_pushvalue(L, idx);
	lua_rawset(L, -3);
	lua_pop(L, 1);
	lua_replace(L, idx);
}

int dr_lua_readonly_backing(lua_State *L, int idx)
{
	if (lua_type(L, idx) != LUA_TTABLE)
		return 0;
	idx = lua_absindex(L, idx);
	lua_rawgetp(L, LUA_REGISTRYINDEX, &backing_key);
	lua_pushvalue(L, idx);
	lua_rawget(L, -2);
	lua_remove(L, -2);
	if (lua_istable(L, -1))
		return 1;
	lua_pop(L, 1);
	return 0;
}

static void push_json(lua_State *L, const json_t *j, int readonly, int depth)
{
	const char *key;
	size_t klen, i;
	json_t *v;

	if (depth > DR_LUAJSON_MAX_DEPTH)
		luaL_error(L, "JSON nesting too deep");
	luaL_checkstack(L, 4, "JSON nesting");
	switch (json_typeof(j)) {
	case JSON_OBJECT:
		lua_createtable(L, 0, (int)json_object_size(j));
		json_object_keylen_foreach((json_t *)j, key, klen, v) {
			lua_pushlstring(L, key, klen);
			push_json(L, v, readonly, depth + 1);
			lua_rawset(L, -3);
		}
		if (readonly)
			dr_lua_make_readonly(L, -1);
		break;
	case JSON_ARRAY:
		lua_createtable(L, (int)json_array_size(j), 0);
		json_array_foreach(j, i, v) {
			push_json(L, v, readonly, depth + 1);
			lua_rawseti(L, -2, (lua_Integer)i + 1);
		}
		if (readonly)
			dr_lua_make_readonly(L, -1);
		break;
	case JSON_STRING:
		lua_pushlstring(L, json_string_value(j), json_string_length(j));
		break;
	case JSON_INTEGER:
		lua_pushinteger(L, (lua_Integer)json_integer_value(j));
		break;
	case JSON_REAL:
		lua_pushnumber(L, json_real_value(j));
		break;
	case JSON_TRUE:
		lua_pushboolean(L, 1);
		break;
	case JSON_FALSE:
		lua_pushboolean(L, 0);
		break;
	case JSON_NULL:
		dr_lua_push_null(L);
		break;
	}
}

void dr_lua_push_json(lua_State *L, const json_t *j, int readonly)
{
	if (!j) {
		lua_pushnil(L);
		return;
	}
	push_json(L, j, readonly, 0);
}

static json_t *fail(char *err, size_t errsize, const char *msg)
{
	snprintf(err, errsize, "%s", msg);
	return NULL;
}

static json_t *to_json(lua_State *L, int idx, char *err, size_t errsize,
		       int depth);

static json_t *table_to_json(lua_State *L, int idx, char *err, size_t errsize,
			     int depth)
{
	lua_Integer n = (lua_Integer)lua_rawlen(L, idx), count = 0;
	int is_array = n > 0;
	json_t *out, *v;
	const char *k;
	size_t klen;

	lua_pushnil(L);
	while (lua_next(L, idx)) {
		lua_pop(L, 1);
		count++;
		if (!lua_isinteger(L, -1) || lua_tointeger(L, -1) < 1 ||
		    lua_tointeger(L, -1) > n)
			is_array = 0;
	}
	if (count != n)
		is_array = 0;
	if (is_array) {
		out = json_array();
		for (lua_Integer i = 1; i <= n; i++) {
			lua_rawgeti(L, idx, i);
			v = to_json(L, lua_gettop(L), err, errsize, depth + 1);
			lua_pop(L, 1);
			if (!v || json_array_append_new(out, v)) {
				json_decref(out);
				return NULL;
			}
		}
		return out;
	}
	out = json_object();
	lua_pushnil(L);
	while (lua_next(L, idx)) {
		if (lua_type(L, -2) != LUA_TSTRING) {
			lua_pop(L, 2);
			json_decref(out);
			return fail(err, errsize, "object keys must be strings");
		}
		k = lua_tolstring(L, -2, &klen);
		v = to_json(L, lua_gettop(L), err, errsize, depth + 1);
		lua_pop(L, 1);
		if (!v) {
			lua_pop(L, 1);
			json_decref(out);
			return NULL;
		}
		if (json_object_setn_new(out, k, klen, v)) {
			lua_pop(L, 1);
			json_decref(out);
			return fail(err, errsize, "object key is not valid UTF-8");
		}
	}
	return out;
}

static json_t *to_json(lua_State *L, int idx, char *err, size_t errsize,
		       int depth)
{
	const char *s;
	size_t len;
	json_t *j;

	if (depth > DR_LUAJSON_MAX_DEPTH)
		return fail(err, errsize, "nesting too deep or cyclic");
	if (!lua_checkstack(L, 6))
		return fail(err, errsize, "nesting too deep or cyclic");
	switch (lua_type(L, idx)) {
	case LUA_TNIL:
		return json_null();
	case LUA_TBOOLEAN:
		return json_boolean(lua_toboolean(L, idx));
	case LUA_TNUMBER:
		if (lua_isinteger(L, idx))
			return json_integer((json_int_t)lua_tointeger(L, idx));
		if (!isfinite(lua_tonumber(L, idx)))
			return fail(err, errsize, "cannot encode NaN or infinity");
		return json_real(lua_tonumber(L, idx));
	case LUA_TSTRING:
		s = lua_tolstring(L, idx, &len);
		j = json_stringn(s, len);
		return j ? j : fail(err, errsize, "string is not valid UTF-8");
	case LUA_TLIGHTUSERDATA:
		if (dr_lua_is_null(L, idx))
			return json_null();
		break;
	case LUA_TTABLE:
		if (dr_lua_readonly_backing(L, idx)) {
			j = to_json(L, lua_gettop(L), err, errsize, depth);
			lua_pop(L, 1);
			return j;
		}
		return table_to_json(L, lua_absindex(L, idx), err, errsize, depth);
	}
	snprintf(err, errsize, "cannot encode a %s value", luaL_typename(L, idx));
	return NULL;
}

json_t *dr_lua_to_json(lua_State *L, int idx, char *err, size_t errsize)
{
	return to_json(L, lua_absindex(L, idx), err, errsize, 0);
}
