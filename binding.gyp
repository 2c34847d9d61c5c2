# Module libraries built with node-gyp (scripts/build-modules.ts runs it from this directory).
# Each target is one module: target_name is the module code, the output build/Release/<code>.so.
{
  "targets": [
    {
      "target_name": "sales",
      "variables": {"erpmod_manifest": "modules/sales/module.yml"},
      "includes": ["native-sdk/gyp/erpmod.gypi"],
      "sources": [
        "modules/sales/src/sales-module.cc",
        "modules/sales/src/order-input.cc",
        "modules/sales/src/pricing.cc",
      ],
    },
  ],
}
