# _kiln for the esp32 port (ESP-IDF's cmake). Every .c file in this folder is part of it.
add_library(usermod_kiln INTERFACE)

file(GLOB KILN_SOURCES ${CMAKE_CURRENT_LIST_DIR}/*.c)
target_sources(usermod_kiln INTERFACE ${KILN_SOURCES})
target_include_directories(usermod_kiln INTERFACE ${CMAKE_CURRENT_LIST_DIR})

target_link_libraries(usermod INTERFACE usermod_kiln)
