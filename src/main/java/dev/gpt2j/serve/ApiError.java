package dev.gpt2j.serve;

/**
 * An error as OpenAI's API reports it: the HTTP status and {@code {"error": {"message", "type",
 * "param", "code"}}}.
 */
final class ApiError extends RuntimeException {
  final int status;
  final String type;
  final String param;
  final String code;

  ApiError(int status, String type, String param, String code, String message) {
    super(message);
    this.status = status;
    this.type = type;
    this.param = param;
    this.code = code;
  }

  /** 400: a request the server cannot take, naming the parameter. */
  static ApiError invalid(String param, String message) {
    return new ApiError(400, "invalid_request_error", param, null, message);
  }
}
