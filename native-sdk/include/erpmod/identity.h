// One source of truth for a module's identity: module.yml. The build glues (erpmod.gypi,
// erpmod.cmake) read its code and version and define ERPMOD_BUILD_CODE / ERPMOD_BUILD_VERSION as
// string literals; ERPMOD_MODULE refuses to compile when its own literals differ, and a module may
// pass the two macros themselves so there is nothing to keep in step:
//
//   ERPMOD_MODULE(Hello, ERPMOD_BUILD_CODE, ERPMOD_BUILD_VERSION)
//
// Built without the glues (no module.yml beside the build file), the literals are taken as given.
#ifndef ERPMOD_IDENTITY_H_
#define ERPMOD_IDENTITY_H_

namespace erpmod::detail {

constexpr bool SameText(const char* a, const char* b) {
  while (*a != '\0' && *a == *b) {
    ++a;
    ++b;
  }
  return *a == *b;
}

}  // namespace erpmod::detail

#if defined(ERPMOD_BUILD_CODE) && defined(ERPMOD_BUILD_VERSION)
#define ERPMOD_CHECK_IDENTITY_(code, version)                                                     \
  static_assert(::erpmod::detail::SameText(code, ERPMOD_BUILD_CODE),                              \
                "ERPMOD_MODULE's code differs from module.yml's code (ERPMOD_BUILD_CODE): "       \
                "write ERPMOD_BUILD_CODE in ERPMOD_MODULE, or make them equal");                  \
  static_assert(::erpmod::detail::SameText(version, ERPMOD_BUILD_VERSION),                        \
                "ERPMOD_MODULE's version differs from module.yml's version (ERPMOD_BUILD_VERSION): " \
                "write ERPMOD_BUILD_VERSION in ERPMOD_MODULE, or make them equal");
#else
#define ERPMOD_CHECK_IDENTITY_(code, version)
#endif

#endif  // ERPMOD_IDENTITY_H_
