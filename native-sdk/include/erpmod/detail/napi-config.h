// erpmod/detail/napi-config.h: the one place where the SDK pins Node-API and node-addon-api.
//
// Included first by every SDK header, so the settings hold however a vendor orders includes.
#ifndef ERPMOD_DETAIL_NAPI_CONFIG_H_
#define ERPMOD_DETAIL_NAPI_CONFIG_H_

// Node-API 8 is what erpmod ABI 1 modules declare (module.yml abi.napi); a vendor may pin another
// released version by defining NAPI_VERSION on the command line.
#ifndef NAPI_VERSION
#define NAPI_VERSION 8
#endif
#if NAPI_VERSION < 8
#error "erpmod SDK: NAPI_VERSION must be 8 or more (object freezing, default property attributes)"
#endif

#ifndef NODE_ADDON_API_DISABLE_DEPRECATED
#define NODE_ADDON_API_DISABLE_DEPRECATED
#endif

// Errors cross the Node-API boundary as C++ exceptions inside the SDK and as JavaScript errors
// outside it; the SDK catches everything at each entry point (module.h, detail/runtime.h).
#if defined(NAPI_DISABLE_CPP_EXCEPTIONS) || defined(NODE_ADDON_API_DISABLE_CPP_EXCEPTIONS)
#error "erpmod SDK: C++ exceptions are required (remove NAPI_DISABLE_CPP_EXCEPTIONS)"
#endif
#ifndef NAPI_CPP_EXCEPTIONS
#define NAPI_CPP_EXCEPTIONS
#endif
#ifndef NODE_ADDON_API_CPP_EXCEPTIONS_ALL
#define NODE_ADDON_API_CPP_EXCEPTIONS_ALL
#endif

#include <napi.h>

#ifndef NODE_ADDON_API_CPP_EXCEPTIONS
#error "erpmod SDK: napi.h was included before erpmod headers without NAPI_CPP_EXCEPTIONS"
#endif

#include "erpmod/abi.h"

#endif  // ERPMOD_DETAIL_NAPI_CONFIG_H_
