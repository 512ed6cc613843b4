internal import CCurl

/// libcurl's C callbacks: plain functions (no captures), which find their transfer through
/// the context pointer. The pointer is unretained: the loop's `active` table keeps the
/// transfer alive while its easy handle is in the multi handle, the only time libcurl
/// calls back.
private let writeCallback: cort_curl_data_callback = { data, size, count, context in
    guard let context else { return 0 }
    return Unmanaged<CurlTransfer>.fromOpaque(context).takeUnretainedValue().receiveBody(data, count: size * count)
}

private let headerCallback: cort_curl_data_callback = { data, size, count, context in
    guard let context else { return 0 }
    return Unmanaged<CurlTransfer>.fromOpaque(context).takeUnretainedValue().receiveHeader(data, count: size * count)
}

/// Making, reading and freeing the easy handle of one ``CurlTransfer`` (loop thread only).
enum CurlEasy {
    /// Creates and configures the easy handle for `transfer`, stored in `transfer.easy`.
    static func make(for transfer: CurlTransfer) throws(ConsulError) -> UnsafeMutableRawPointer {
        guard let easy = curl_easy_init() else {
            throw ConsulError(.transport, "\(transfer.request.summary): libcurl could not make a handle")
        }
        transfer.easy = easy
        do {
            try configure(easy, for: transfer)
        } catch {
            release(transfer)
            throw error
        }
        return easy
    }

    private static func configure(_ easy: UnsafeMutableRawPointer, for transfer: CurlTransfer) throws(ConsulError) {
        let request = transfer.request
        let session = transfer.session
        var failed: (String, CURLcode)?
        func set(_ name: String, _ code: CURLcode) {
            if code != CURLE_OK, failed == nil { failed = (name, code) }
        }

        set("URL", cort_curl_easy_setopt_string(easy, CURLOPT_URL, transfer.url))
        // No signals: this runs on a thread of a multi-threaded process.
        set("NOSIGNAL", cort_curl_easy_setopt_long(easy, CURLOPT_NOSIGNAL, 1))
        set("PROTOCOLS", cort_curl_easy_setopt_string(easy, CURLOPT_PROTOCOLS_STR, "http,https"))
        set("ERRORBUFFER", cort_curl_easy_setopt_pointer(easy, CURLOPT_ERRORBUFFER, transfer.errorBuffer))
        set("TIMEOUT_MS", cort_curl_easy_setopt_long(easy, CURLOPT_TIMEOUT_MS, request.timeout.milliseconds))
        set("CONNECTTIMEOUT_MS", cort_curl_easy_setopt_long(easy, CURLOPT_CONNECTTIMEOUT_MS, session.connectTimeoutMilliseconds))
        set("TCP_KEEPALIVE", cort_curl_easy_setopt_long(easy, CURLOPT_TCP_KEEPALIVE, 1))
        // Rejects a declared Content-Length above the cap before reading any of it; the
        // write callback enforces the cap on chunked or compressed bodies.
        set("MAXFILESIZE", cort_curl_easy_setopt_off_t(easy, CURLOPT_MAXFILESIZE_LARGE, curl_off_t(session.maxBodySize)))
        set("ACCEPT_ENCODING", cort_curl_easy_setopt_string(easy, CURLOPT_ACCEPT_ENCODING, ""))

        let context = Unmanaged.passUnretained(transfer).toOpaque()
        set("WRITEFUNCTION", cort_curl_easy_setopt_data_callback(easy, CURLOPT_WRITEFUNCTION, writeCallback))
        set("WRITEDATA", cort_curl_easy_setopt_pointer(easy, CURLOPT_WRITEDATA, context))
        set("HEADERFUNCTION", cort_curl_easy_setopt_data_callback(easy, CURLOPT_HEADERFUNCTION, headerCallback))
        set("HEADERDATA", cort_curl_easy_setopt_pointer(easy, CURLOPT_HEADERDATA, context))

        switch request.method {
        case .get:
            set("HTTPGET", cort_curl_easy_setopt_long(easy, CURLOPT_HTTPGET, 1))
        case .put:
            set("CUSTOMREQUEST", cort_curl_easy_setopt_string(easy, CURLOPT_CUSTOMREQUEST, "PUT"))
            let body = request.body ?? []
            set("POSTFIELDSIZE", cort_curl_easy_setopt_off_t(easy, CURLOPT_POSTFIELDSIZE_LARGE, curl_off_t(body.count)))
            // COPYPOSTFIELDS copies the bytes, so nothing of ours must outlive this call.
            body.withUnsafeBytes { bytes in
                let empty: StaticString = ""
                let pointer = bytes.baseAddress ?? UnsafeRawPointer(empty.utf8Start)
                set("COPYPOSTFIELDS", cort_curl_easy_setopt_pointer(easy, CURLOPT_COPYPOSTFIELDS, UnsafeMutableRawPointer(mutating: pointer)))
            }
        }

        var list: UnsafeMutablePointer<curl_slist>?
        // "Expect:" stops libcurl from waiting for a 100 Continue before sending a body.
        for line in transfer.headerLines + ["Expect:"] {
            guard let appended = curl_slist_append(list, line) else {
                curl_slist_free_all(list)
                throw ConsulError(.transport, "\(request.summary): libcurl could not build the headers")
            }
            list = appended
        }
        transfer.headerList = list
        set("HTTPHEADER", cort_curl_easy_setopt_slist(easy, CURLOPT_HTTPHEADER, list))

        if let path = session.unixSocketPath {
            set("UNIX_SOCKET_PATH", cort_curl_easy_setopt_string(easy, CURLOPT_UNIX_SOCKET_PATH, path))
        }
        if let connectTo = session.connectTo, let entry = curl_slist_append(nil, connectTo) {
            // Freed with the header list: CONNECT_TO's list must outlive the transfer too.
            transfer.connectToList = entry
            set("CONNECT_TO", cort_curl_easy_setopt_slist(easy, CURLOPT_CONNECT_TO, entry))
        }
        if session.useTLS {
            set("SSL_VERIFYPEER", cort_curl_easy_setopt_long(easy, CURLOPT_SSL_VERIFYPEER, session.verifyPeer ? 1 : 0))
            set("SSL_VERIFYHOST", cort_curl_easy_setopt_long(easy, CURLOPT_SSL_VERIFYHOST, session.verifyPeer ? 2 : 0))
            if let caFile = session.caFile { set("CAINFO", cort_curl_easy_setopt_string(easy, CURLOPT_CAINFO, caFile)) }
            if let caPath = session.caPath { set("CAPATH", cort_curl_easy_setopt_string(easy, CURLOPT_CAPATH, caPath)) }
            if let certificate = session.certificateFile {
                set("SSLCERT", cort_curl_easy_setopt_string(easy, CURLOPT_SSLCERT, certificate))
            }
            if let key = session.keyFile { set("SSLKEY", cort_curl_easy_setopt_string(easy, CURLOPT_SSLKEY, key)) }
        }
        if let username = session.username {
            set("HTTPAUTH", cort_curl_easy_setopt_long(easy, CURLOPT_HTTPAUTH, 1 /* CURLAUTH_BASIC, a macro Swift does not import */))
            set("USERNAME", cort_curl_easy_setopt_string(easy, CURLOPT_USERNAME, username))
            set("PASSWORD", cort_curl_easy_setopt_string(easy, CURLOPT_PASSWORD, session.password ?? ""))
        }

        if let (name, code) = failed {
            throw ConsulError(.configuration, "\(request.summary): libcurl refused option \(name): \(String(cString: curl_easy_strerror(code)))")
        }
    }

    /// Frees the easy handle and the lists it used.
    static func release(_ transfer: CurlTransfer) {
        if let easy = transfer.easy { curl_easy_cleanup(easy) }
        transfer.easy = nil
        curl_slist_free_all(transfer.headerList)
        transfer.headerList = nil
        curl_slist_free_all(transfer.connectToList)
        transfer.connectToList = nil
    }

    /// The answer, or the error, of a completed transfer.
    static func result(of transfer: CurlTransfer, code: CURLcode) -> Result<HTTPResponse, ConsulError> {
        let summary = transfer.request.summary
        guard code == CURLE_OK else {
            let detail = String(cString: transfer.errorBuffer)
            let text = detail.isEmpty ? String(cString: curl_easy_strerror(code)) : detail
            let cause = CurlFailure(code: Int(code.rawValue), message: text)
            switch code {
            case CURLE_WRITE_ERROR where transfer.bodyTooLarge, CURLE_FILESIZE_EXCEEDED:
                return .failure(ConsulError(
                    .bodyTooLarge, "\(summary): the answer is larger than the \(transfer.maxBodySize)-byte limit",
                    cause: cause))
            case CURLE_OPERATION_TIMEDOUT:
                return .failure(ConsulError(
                    .timeout, "\(summary): no answer within \(transfer.request.timeout) (\(text))", cause: cause))
            default:
                return .failure(ConsulError(.transport, "\(summary): \(text)", cause: cause))
            }
        }
        var status = 0
        if let easy = transfer.easy {
            _ = cort_curl_easy_getinfo_long(easy, CURLINFO_RESPONSE_CODE, &status)
        }
        return .success(HTTPResponse(status: status, headers: transfer.receivedHeaders, body: transfer.body))
    }
}
