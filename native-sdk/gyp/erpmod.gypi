# erpmod.gypi: build an erpmod module library with node-gyp.
#
# Include it inside each module target of a binding.gyp (paths below are relative to this file):
#
#   {
#     "targets": [{
#       "target_name": "hello",                 # the module code: output build/Release/hello.so
#       "includes": ["native-sdk/gyp/erpmod.gypi"],
#       "sources": ["src/hello.cc"]
#     }]
#   }
#
# The library is named <target_name>.so / .dylib / .dll (not .node), pins NAPI_VERSION=8, hides
# every symbol but the two Node-API entry points, avoids STB_GNU_UNIQUE symbols (which would make
# the library impossible to unload from a worker thread) and builds C++ with exceptions enabled,
# which the SDK converts to JavaScript errors at the Node-API boundary.
{
  "variables": {
    # Path keys ending in _file are rebased by gyp onto the including binding.gyp's directory.
    "erpmod_exports_map_file": "../link/erpmod-exports.map",
    "erpmod_exports_list_file": "../link/erpmod-exports.txt",
    # Rebased the same way (keys ending in _dir): where node-addon-api is looked up when the
    # vendor's project does not have it.
    "erpmod_sdk_dir": "..",
    # The module's manifest, relative to the binding.gyp: its code and version are compiled in as
    # ERPMOD_BUILD_CODE / ERPMOD_BUILD_VERSION, which ERPMOD_MODULE checks its literals against.
    # A binding.gyp building a module that lives elsewhere sets it (the repository's own does).
    "erpmod_manifest%": "module.yml",
  },
  "include_dirs": [
    "../include",
    "<!(node -p \"require('path').dirname(require.resolve('node-addon-api/package.json', {paths: [process.cwd(), '<(erpmod_sdk_dir)']}))\")",
  ],
  "defines": [
    "NAPI_VERSION=8",
    "NAPI_CPP_EXCEPTIONS",
    "NODE_ADDON_API_CPP_EXCEPTIONS_ALL",
    "NODE_ADDON_API_DISABLE_DEPRECATED",
    "<!@(node \"<(erpmod_sdk_dir)/tools/module-identity.js\" \"<(erpmod_manifest)\" gyp)",
  ],
  "cflags!": ["-fno-exceptions", "-O3"],
  "cflags_cc!": ["-fno-exceptions", "-O3"],
  "cflags": ["-O2", "-fvisibility=hidden"],
  "cflags_cc": ["-O2", "-fvisibility=hidden", "-fvisibility-inlines-hidden", "-std=gnu++17"],
  "conditions": [
    ["OS=='linux'", {
      "cflags": ["-fno-gnu-unique"],
      "ldflags": [
        "-Wl,--gc-sections",
        "-Wl,--version-script=<(module_root_dir)/<(erpmod_exports_map_file)",
      ],
    }],
    ["OS=='mac'", {
      "xcode_settings": {
        "GCC_ENABLE_CPP_EXCEPTIONS": "YES",
        "GCC_SYMBOLS_PRIVATE_EXTERN": "YES",
        "GCC_INLINES_ARE_PRIVATE_EXTERN": "YES",
        "GCC_OPTIMIZATION_LEVEL": "2",
        "CLANG_CXX_LANGUAGE_STANDARD": "c++17",
        "CLANG_CXX_LIBRARY": "libc++",
        "MACOSX_DEPLOYMENT_TARGET": "11.0",
        "OTHER_LDFLAGS": ["-Wl,-exported_symbols_list,<(module_root_dir)/<(erpmod_exports_list_file)"],
      },
    }],
    ["OS=='win'", {
      "defines": ["_HAS_EXCEPTIONS=1"],
      "msvs_settings": {
        "VCCLCompilerTool": {"ExceptionHandling": 1, "Optimization": 2, "AdditionalOptions": ["/std:c++17"]},
      },
    }],
  ],
  # node-gyp's own target_conditions name loadable modules .node; a later target_conditions entry
  # in the target itself is what overrides it.
  "target_conditions": [
    ["_type=='loadable_module' and OS=='linux'", {"product_extension": "so"}],
    ["_type=='loadable_module' and OS=='mac'", {"product_extension": "dylib"}],
    ["_type=='loadable_module' and OS=='win'", {"product_extension": "dll"}],
  ],
}
