# erpmod.cmake: build an erpmod module library with cmake-js.
#
#   cmake_minimum_required(VERSION 3.15)
#   project(hello LANGUAGES C CXX)
#   include(${CMAKE_CURRENT_SOURCE_DIR}/../../native-sdk/cmake/erpmod.cmake)
#   erpmod_add_module(hello SOURCES src/hello.cc)
#
# erpmod_add_module(<code> SOURCES <files...> [NAPI_VERSION <n>] [INCLUDE_DIRS <dirs...>]
#                   [LIBRARIES <libs...>] [OUTPUT_DIRECTORY <dir>] [MANIFEST <module.yml>])
#
# MANIFEST (default: module.yml beside the CMakeLists.txt) is read at configure time: its code and
# version are compiled in as ERPMOD_BUILD_CODE / ERPMOD_BUILD_VERSION (erpmod/identity.h), and an
# edit of it reconfigures. Its code must be <code>.
#
# Produces <code>.so / .dylib / .dll (no "lib" prefix, not .node) in OUTPUT_DIRECTORY (default:
# the build directory, ${CMAKE_BINARY_DIR}/Release like cmake-js's own layout), with NAPI_VERSION
# pinned (8 unless given), hidden symbols except the two Node-API entry points, no STB_GNU_UNIQUE
# symbols, C++17 with exceptions, -O2.
#
# cmake-js does not download anything when the project's package.json has
# "binary": {"napi_versions": [8]} (it then uses the node-api-headers package); CMAKE_JS_INC,
# CMAKE_JS_SRC and CMAKE_JS_LIB carry what it found. Outside cmake-js, set NODE_API_INCLUDE_DIR.

cmake_minimum_required(VERSION 3.15)

set(ERPMOD_SDK_DIR "${CMAKE_CURRENT_LIST_DIR}/.." CACHE INTERNAL "erpmod native-sdk directory")
get_filename_component(ERPMOD_SDK_DIR "${ERPMOD_SDK_DIR}" ABSOLUTE)

# node-addon-api's headers: resolved with node from the project, else from the SDK's location
# (cmake-js also lists them in CMAKE_JS_INC when the project's package.json can resolve them).
find_program(ERPMOD_NODE_EXECUTABLE NAMES node nodejs)
if(NOT NODE_ADDON_API_DIR)
  if(ERPMOD_NODE_EXECUTABLE)
    execute_process(
      COMMAND "${ERPMOD_NODE_EXECUTABLE}" -p
        "require('path').dirname(require.resolve('node-addon-api/package.json', {paths: [process.cwd(), '${ERPMOD_SDK_DIR}']}))"
      WORKING_DIRECTORY "${CMAKE_SOURCE_DIR}"
      OUTPUT_VARIABLE NODE_ADDON_API_DIR
      OUTPUT_STRIP_TRAILING_WHITESPACE
      ERROR_QUIET)
  endif()
endif()

function(erpmod_add_module code)
  cmake_parse_arguments(ARG "" "NAPI_VERSION;OUTPUT_DIRECTORY;MANIFEST" "SOURCES;INCLUDE_DIRS;LIBRARIES" ${ARGN})
  if(NOT ARG_SOURCES)
    message(FATAL_ERROR "erpmod_add_module(${code}): SOURCES is required")
  endif()
  if(NOT ARG_NAPI_VERSION)
    set(ARG_NAPI_VERSION 8)
  endif()
  if(NOT ARG_OUTPUT_DIRECTORY)
    set(ARG_OUTPUT_DIRECTORY "${CMAKE_BINARY_DIR}/Release")
  endif()

  add_library(${code} SHARED ${ARG_SOURCES} ${CMAKE_JS_SRC})
  target_include_directories(${code} PRIVATE
    "${ERPMOD_SDK_DIR}/include" ${CMAKE_JS_INC} ${NODE_API_INCLUDE_DIR} ${NODE_ADDON_API_DIR} ${ARG_INCLUDE_DIRS})
  target_link_libraries(${code} PRIVATE ${CMAKE_JS_LIB} ${ARG_LIBRARIES})
  target_compile_definitions(${code} PRIVATE
    NAPI_VERSION=${ARG_NAPI_VERSION}
    NAPI_CPP_EXCEPTIONS
    NODE_ADDON_API_CPP_EXCEPTIONS_ALL
    NODE_ADDON_API_DISABLE_DEPRECATED
    BUILDING_NODE_EXTENSION)
  target_compile_features(${code} PRIVATE cxx_std_17)

  if(NOT ARG_MANIFEST)
    set(ARG_MANIFEST "${CMAKE_CURRENT_SOURCE_DIR}/module.yml")
  endif()
  if(EXISTS "${ARG_MANIFEST}")
    set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS "${ARG_MANIFEST}")
    if(NOT ERPMOD_NODE_EXECUTABLE)
      message(FATAL_ERROR "erpmod_add_module(${code}): node was not found on PATH; it reads ${ARG_MANIFEST}")
    endif()
    execute_process(
      COMMAND "${ERPMOD_NODE_EXECUTABLE}" "${ERPMOD_SDK_DIR}/tools/module-identity.js" "${ARG_MANIFEST}" cmake
      OUTPUT_VARIABLE identity
      ERROR_VARIABLE identity_error
      RESULT_VARIABLE identity_status
      OUTPUT_STRIP_TRAILING_WHITESPACE)
    if(NOT identity_status EQUAL 0)
      message(FATAL_ERROR "${identity_error}")
    endif()
    list(GET identity 0 manifest_code)
    list(GET identity 1 manifest_version)
    if(NOT manifest_code STREQUAL code)
      message(FATAL_ERROR "erpmod_add_module(${code}): ${ARG_MANIFEST} says code: ${manifest_code}; the library must be named after the module's code")
    endif()
    target_compile_definitions(${code} PRIVATE
      ERPMOD_BUILD_CODE="${manifest_code}"
      ERPMOD_BUILD_VERSION="${manifest_version}")
  endif()

  if(WIN32)
    set(suffix ".dll")
  elseif(APPLE)
    set(suffix ".dylib")
  else()
    set(suffix ".so")
  endif()
  set_target_properties(${code} PROPERTIES
    PREFIX ""
    SUFFIX "${suffix}"
    C_VISIBILITY_PRESET hidden
    CXX_VISIBILITY_PRESET hidden
    VISIBILITY_INLINES_HIDDEN ON
    CXX_EXTENSIONS ON
    POSITION_INDEPENDENT_CODE ON
    LIBRARY_OUTPUT_DIRECTORY "${ARG_OUTPUT_DIRECTORY}"
    RUNTIME_OUTPUT_DIRECTORY "${ARG_OUTPUT_DIRECTORY}")
  foreach(config Release RelWithDebInfo Debug MinSizeRel)
    string(TOUPPER ${config} upper)
    set_target_properties(${code} PROPERTIES
      LIBRARY_OUTPUT_DIRECTORY_${upper} "${ARG_OUTPUT_DIRECTORY}"
      RUNTIME_OUTPUT_DIRECTORY_${upper} "${ARG_OUTPUT_DIRECTORY}")
  endforeach()

  if(MSVC)
    target_compile_options(${code} PRIVATE /EHsc /O2)
    if(CMAKE_JS_NODELIB_DEF AND CMAKE_JS_NODELIB_TARGET)
      execute_process(COMMAND ${CMAKE_AR} /def:${CMAKE_JS_NODELIB_DEF} /out:${CMAKE_JS_NODELIB_TARGET} ${CMAKE_STATIC_LINKER_FLAGS})
    endif()
  else()
    target_compile_options(${code} PRIVATE -O2 -fexceptions)
  endif()
  if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
    target_compile_options(${code} PRIVATE -fno-gnu-unique)
  endif()
  if(APPLE)
    target_link_options(${code} PRIVATE -undefined dynamic_lookup
      "-Wl,-exported_symbols_list,${ERPMOD_SDK_DIR}/link/erpmod-exports.txt")
  elseif(UNIX)
    target_link_options(${code} PRIVATE -Wl,--gc-sections
      "-Wl,--version-script=${ERPMOD_SDK_DIR}/link/erpmod-exports.map")
  endif()
endfunction()
