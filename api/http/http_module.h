/* The boundary between pbk-agent and its HTTP module pbk-http.so, in plain C.
 *
 * The program carries its own static C++ runtime; the module, loaded with
 * dlopen() only by processes that reach the network, brings the shared one
 * with cpprestsdk. Two runtimes must share nothing but C: only C types cross
 * (pointer + length for bytes, integer codes, a caller's buffer for error
 * text), nothing is allocated on one side and freed on the other (the module
 * hands data back through the caller's sink), and no exception crosses:
 * every entry point catches everything and answers with a code.
 *
 * The loader checks pbk_http_abi_version() before it uses anything else.
 * Change the version with any change to this file.
 *
 * A WebSocket over the same validated TLS (for Kuma's management API) is a
 * second set of entry points, pbk_ws_*, sharing pbk_http_tls, the error
 * codes and the error buffer. */
#ifndef PBK_API_HTTP_MODULE_H_
#define PBK_API_HTTP_MODULE_H_

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define PBK_HTTP_ABI_VERSION 2u

/* Bytes or text, not NUL-terminated. */
typedef struct {
  const char* data;
  size_t size;
} pbk_bytes;

typedef struct {
  pbk_bytes name;
  pbk_bytes value; /* may be secret: never repeated in an error */
} pbk_header;

typedef struct {
  pbk_bytes ca_file;     /* PEM file of trusted CAs; empty: the system store */
  pbk_bytes server_name; /* empty: IP mode */
} pbk_http_tls;

typedef struct {
  pbk_bytes method;
  pbk_bytes host; /* an IPv4 address literal */
  uint16_t port;
  pbk_bytes target; /* path and query, percent-encoded; may be secret */
  const pbk_header* headers;
  size_t header_count;
  pbk_bytes body;
  int64_t deadline_ms; /* for the whole exchange */
} pbk_http_request;

/* Where the module puts the answer: it calls APPEND with PART 0 for the
 * reason phrase and 1 for the body, as often as it likes. The module never
 * keeps the pointers it was given. */
typedef struct {
  void* context;
  void (*append)(void* context, int part, const char* data, size_t size);
  int status; /* set by the module */
} pbk_http_response;

/* Failure codes; the same values as pbk::HttpErrorKind. */
enum {
  PBK_HTTP_OK = -1,
  PBK_HTTP_UNTRUSTED_CERTIFICATE = 0,
  PBK_HTTP_NAME_MISMATCH = 1,
  PBK_HTTP_CERTIFICATE_EXPIRED = 2,
  PBK_HTTP_CERTIFICATE_INVALID = 3,
  PBK_HTTP_TLS_HANDSHAKE = 4,
  PBK_HTTP_CONNECTION_REFUSED = 5,
  PBK_HTTP_UNREACHABLE = 6,
  PBK_HTTP_TIMEOUT = 7,
  PBK_HTTP_CONNECTION_CLOSED = 8,
  PBK_HTTP_OTHER = 9
};

/* A message buffer of the caller's; the module writes at most CAPACITY
 * bytes including a terminating NUL, cutting longer text. */
typedef struct {
  char* text;
  size_t capacity;
} pbk_http_error;

typedef struct pbk_http_client pbk_http_client; /* opaque */

typedef uint32_t (*pbk_http_abi_version_fn)(void);
/* Returns a client, or NULL with ERROR filled (an unusable CA file, say). */
typedef pbk_http_client* (*pbk_http_client_new_fn)(const pbk_http_tls* tls, pbk_http_error* error);
typedef void (*pbk_http_client_free_fn)(pbk_http_client* client);
/* Sends one request. Returns PBK_HTTP_OK when an answer came (any HTTP
 * status), else a failure code with ERROR filled. One thread at a time per
 * client: the client keeps its connection for the next request. */
typedef int (*pbk_http_send_fn)(pbk_http_client* client, const pbk_http_request* request,
                                pbk_http_response* response, pbk_http_error* error);

/* --- WebSocket ------------------------------------------------------------- */

typedef struct {
  pbk_bytes host; /* an IPv4 address literal */
  uint16_t port;
  pbk_bytes target; /* path and query; may be secret */
  const pbk_header* headers;
  size_t header_count;
  int64_t deadline_ms; /* for the opening handshake */
} pbk_ws_request;

/* What pbk_ws_receive answers besides the failure codes above. */
enum {
  PBK_WS_MESSAGE = -1, /* one text message went to the sink (= PBK_HTTP_OK) */
  PBK_WS_CLOSED = -2,  /* the connection is closed; ERROR says how it ended */
  PBK_WS_TIMEOUT = -3  /* nothing came in time; the connection stays open */
};

/* Where the module puts a received message: APPEND, as often as it likes. */
typedef struct {
  void* context;
  void (*append)(void* context, const char* data, size_t size);
} pbk_ws_sink;

typedef struct pbk_ws pbk_ws; /* opaque */

/* Opens a WebSocket (wss://host:port/target). Returns NULL with *CODE and
 * ERROR filled when it cannot. */
typedef pbk_ws* (*pbk_ws_connect_fn)(const pbk_http_tls* tls, const pbk_ws_request* request,
                                     int* code, pbk_http_error* error);
/* Sends one text message: PBK_HTTP_OK, else a failure code with ERROR. */
typedef int (*pbk_ws_send_text_fn)(pbk_ws* ws, pbk_bytes text, int64_t deadline_ms,
                                   pbk_http_error* error);
/* Waits for one text message: PBK_WS_MESSAGE, PBK_WS_CLOSED, PBK_WS_TIMEOUT. */
typedef int (*pbk_ws_receive_fn)(pbk_ws* ws, const pbk_ws_sink* sink, int64_t deadline_ms,
                                 pbk_http_error* error);
/* Closes the connection and frees WS. */
typedef void (*pbk_ws_close_fn)(pbk_ws* ws);

#define PBK_HTTP_SYMBOL_ABI_VERSION "pbk_http_abi_version"
#define PBK_HTTP_SYMBOL_CLIENT_NEW "pbk_http_client_new"
#define PBK_HTTP_SYMBOL_CLIENT_FREE "pbk_http_client_free"
#define PBK_HTTP_SYMBOL_SEND "pbk_http_send"
#define PBK_WS_SYMBOL_CONNECT "pbk_ws_connect"
#define PBK_WS_SYMBOL_SEND_TEXT "pbk_ws_send_text"
#define PBK_WS_SYMBOL_RECEIVE "pbk_ws_receive"
#define PBK_WS_SYMBOL_CLOSE "pbk_ws_close"

#ifdef __cplusplus
}
#endif

#endif /* PBK_API_HTTP_MODULE_H_ */
