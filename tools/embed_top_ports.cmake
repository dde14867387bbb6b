# Turns data/top-ports.txt (one PORT/PROTO a line, '#' comments) into a C
# header with one array per transport, in the file's order.
# Usage: cmake -DIN=data/top-ports.txt -DOUT=top_ports_data.h -P embed_top_ports.cmake
cmake_policy(SET CMP0054 NEW)
file(STRINGS "${IN}" lines)
set(tcp_list "")
set(udp_list "")
foreach(line IN LISTS lines)
  string(REGEX REPLACE "#.*" "" line "${line}")
  string(STRIP "${line}" line)
  if(line STREQUAL "")
    continue()
  endif()
  if(line MATCHES "^([0-9]+)/(tcp|udp)$")
    if(CMAKE_MATCH_2 STREQUAL "tcp")
      string(APPEND tcp_list "${CMAKE_MATCH_1},")
    else()
      string(APPEND udp_list "${CMAKE_MATCH_1},")
    endif()
  else()
    message(FATAL_ERROR "${IN}: bad line '${line}' (want PORT/tcp or PORT/udp)")
  endif()
endforeach()
file(WRITE "${OUT}.tmp"
  "/* Generated from data/top-ports.txt by tools/embed_top_ports.cmake. */\n"
  "static const uint16_t pk_top_tcp[] = {${tcp_list}};\n"
  "static const uint16_t pk_top_udp[] = {${udp_list}};\n")
file(RENAME "${OUT}.tmp" "${OUT}")
