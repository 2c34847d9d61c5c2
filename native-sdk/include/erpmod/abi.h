/*
 * erpmod/abi.h: the binary contract between the erpmod host and a module library, in pure C.
 *
 * Trust model
 *   The host trusts a module library only after reading it without running it: format, machine,
 *   exported entry points, imported symbols and the info block defined here. The info block is
 *   therefore data, never code: a NUL-terminated UTF-8 text of `key=value` lines in a section of
 *   its own, which the host's compliance checker reads from the file and compares with module.yml.
 *   Once loaded, a module runs in the host's address space with the host's privileges: erpmod
 *   isolates modules by process (`isolation: process`), not by sandboxing native code.
 *
 * Who implements what
 *   - The module implements Node-API registration (`NAPI_MODULE_INIT` from node_api.h, which emits
 *     `napi_register_module_v1` and `node_api_module_get_api_version_v1`) and exports a JavaScript
 *     function named ERPMOD_EXPORT_HANDLER whose result is the module handler object
 *     (native-abi.md section 3).
 *   - The module emits exactly one info block per library with ERPMOD_INFO_BLOCK.
 *   - The host implements everything reachable from the `ctx` object handed to `initialize`
 *     (config, logger, db, events, dataDir). The module only calls it on the JavaScript thread
 *     that called into the module.
 *
 * Ownership
 *   - The info block is static, read-only data owned by the library image.
 *   - Values the host passes in (ctx, requests, event payloads) are owned by the host's JavaScript
 *     heap; a module keeps them beyond the call only through Node-API references it creates.
 *   - Values a module returns (handler objects, functions, responses) are owned by the JavaScript
 *     heap once returned.
 *
 * Versioning
 *   ERPMOD_ABI_VERSION is the major version of this contract. A change that would make an already
 *   built module misbehave bumps it; the host accepts only the majors it lists. A test pins the
 *   hash of this file, so every edit is a conscious ABI decision.
 *
 * Requirements
 *   NAPI_VERSION must be defined (by the build, -DNAPI_VERSION=8, or by including node_api.h first)
 *   before this header is used: the info block records it as `napi=`.
 */
#ifndef ERPMOD_ABI_H_
#define ERPMOD_ABI_H_

/* The erpmod ABI major this header describes. */
#define ERPMOD_ABI_VERSION 1

/* The version of native-sdk/ that this header ships with (recorded as `sdk=`). */
#define ERPMOD_SDK_VERSION "0.1.0"

/* Name of the export the host calls after dlopen; `Handler()` returns the module handler. */
#define ERPMOD_EXPORT_HANDLER "Handler"

/* Name of the section (ELF, PE) that carries the info block; Mach-O uses __DATA,__erpmod. */
#define ERPMOD_INFO_SECTION ".erpmod"

#ifndef NAPI_VERSION
#error "erpmod/abi.h: define NAPI_VERSION (e.g. -DNAPI_VERSION=8) or include node_api.h first"
#endif

/* An experimental (unreleased) Node-API version crashes released Node versions at dlopen. */
#if NAPI_VERSION >= 2147483647
#error "erpmod/abi.h: NAPI_VERSION is experimental; pin a released Node-API version (8)"
#endif

#define ERPMOD_STRINGIFY_X_(x) #x
#define ERPMOD_STRINGIFY_(x) ERPMOD_STRINGIFY_X_(x)

/* C linkage keeps the symbol name `erpmod_info_block` the same from C and C++. */
#ifdef __cplusplus
#define ERPMOD_EXTERN_C_ extern "C"
#else
#define ERPMOD_EXTERN_C_
#endif

/* `retain` (GCC 11+, clang 13+) keeps the section under --gc-sections; it exists for ELF only. */
#if defined(__has_attribute) && !defined(_WIN32) && !defined(__APPLE__)
#if __has_attribute(retain)
#define ERPMOD_RETAIN_ , retain
#endif
#endif
#ifndef ERPMOD_RETAIN_
#define ERPMOD_RETAIN_
#endif

/*
 * The text of the info block for `code` and `version` (both string literals), NUL-terminated by
 * the literal itself.
 */
#define ERPMOD_INFO_TEXT(code, version)                                        \
  "erpmod_info=1\n"                                                            \
  "erpmod_abi=" ERPMOD_STRINGIFY_(ERPMOD_ABI_VERSION) "\n"                     \
  "code=" code "\n"                                                            \
  "version=" version "\n"                                                      \
  "napi=" ERPMOD_STRINGIFY_(NAPI_VERSION) "\n"                                 \
  "sdk=" ERPMOD_SDK_VERSION "\n"

/*
 * ERPMOD_INFO_BLOCK(code, version): defines the info block, once per library, at file scope.
 * `code` and `version` are string literals equal to module.yml's `code` and `version`.
 *
 *   ERPMOD_INFO_BLOCK("hello", "1.0.0")
 */
#if defined(_MSC_VER)
#define ERPMOD_INFO_BLOCK(code, version)                                       \
  __pragma(section(".erpmod", read))                                           \
  __pragma(comment(linker, "/include:erpmod_info_block"))                      \
  ERPMOD_EXTERN_C_ __declspec(allocate(".erpmod"))                             \
  const char erpmod_info_block[] = ERPMOD_INFO_TEXT(code, version);
#elif defined(__APPLE__)
#define ERPMOD_INFO_BLOCK(code, version)                                       \
  ERPMOD_EXTERN_C_                                                             \
  __attribute__((used, visibility("hidden"), section("__DATA,__erpmod")))      \
  const char erpmod_info_block[] = ERPMOD_INFO_TEXT(code, version);
#elif defined(_WIN32)
#define ERPMOD_INFO_BLOCK(code, version)                                       \
  ERPMOD_EXTERN_C_                                                             \
  __attribute__((used, section(".erpmod")))                                    \
  const char erpmod_info_block[] = ERPMOD_INFO_TEXT(code, version);
#else
#define ERPMOD_INFO_BLOCK(code, version)                                       \
  ERPMOD_EXTERN_C_                                                             \
  __attribute__((used ERPMOD_RETAIN_, visibility("hidden"), section(".erpmod"))) \
  const char erpmod_info_block[] = ERPMOD_INFO_TEXT(code, version);
#endif

#endif /* ERPMOD_ABI_H_ */
