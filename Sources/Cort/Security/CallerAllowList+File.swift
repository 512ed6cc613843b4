import Logging
import UnixSignals

#if canImport(Glibc)
internal import Glibc
#elseif canImport(Musl)
internal import Musl
#elseif canImport(Darwin)
internal import Darwin
#endif

extension CallerAllowList {
    /// The callers listed in the file at `path`, which a node serving with
    /// this list re-reads when it changes (rewritten in place or renamed
    /// over) and when the process gets `SIGHUP`.
    ///
    /// The file holds one public key a line, as 40 characters of Z85 or as
    /// `public-key = "<key>"` (the line of a `cort keygen` `.pub` file, so
    /// the callers' `.pub` files, concatenated, make an allow-list). Blank
    /// lines are skipped, and so is everything from a `#` that starts a line
    /// or follows a key:
    ///
    /// ```
    /// # billing, rotated 2025-06
    /// Yne@$w-vo<fVvi]a<NY6T1ed:M$fCG*[IaLV{hID   # billing-1
    /// public-key = "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7"
    /// ```
    ///
    /// (`#` is a Z85 character, but no key starts with it.) An empty file
    /// lets no caller in.
    ///
    /// ```swift
    /// let allowed = try CallerAllowList(contentsOfFile: "/etc/cort/allowed-callers")
    /// ```
    ///
    /// - Throws: ``ConfigurationError/Code/invalidKey`` if the file cannot be
    ///   read or a line is not a valid key; the message names the file and line.
    public convenience init(contentsOfFile path: String) throws(ConfigurationError) {
        let (keys, file) = try Self.read(path)
        self.init(keys: keys, path: path, file: file)
    }

    /// The keys of an allow-list's text (see ``init(contentsOfFile:)``);
    /// `source` names it in errors.
    ///
    /// - Throws: ``ConfigurationError/Code/invalidKey`` at the first line that
    ///   is not a key, a `public-key` setting, a comment or blank; the message
    ///   names `source` and the line.
    public static func parse(_ text: String, source: String) throws(ConfigurationError) -> Set<CurveKey> {
        var keys = Set<CurveKey>()
        for line in KeyFileSyntax.lines(text) where !line.text.isEmpty && !line.text.hasPrefix("#") {
            if let token = KeyFileSyntax.bareKey(line.text) {
                keys.insert(try KeyFileSyntax.key(token, role: "key", source: source, line: line.number))
                continue
            }
            // Before settings: a key holds `=`, and one cut short must not pass for a setting.
            if let why = KeyFileSyntax.wrongKeyLength(line.text) {
                throw KeyFileSyntax.error(source, line: line.number, why)
            }
            if let entry = KeyFileSyntax.setting(line.text) {
                switch entry.name {
                case "public-key":
                    guard let value = entry.value else {
                        throw KeyFileSyntax.error(source, line: line.number,
                                                  "the value of public-key is malformed: write public-key = \"<key>\"")
                    }
                    keys.insert(try KeyFileSyntax.key(value, role: "public key", source: source, line: line.number))
                case "secret-key":
                    throw KeyFileSyntax.error(source, line: line.number, "a secret key in an allow-list: "
                                              + "list the callers' public keys only (and replace that secret key)")
                default:
                    throw KeyFileSyntax.error(source, line: line.number,
                                              "\(entry.name) has no meaning in an allow-list: only public-key = \"<key>\" does")
                }
                continue
            }
            throw KeyFileSyntax.error(source, line: line.number,
                                      "not a public key (40 characters of Z85, maybe followed by a # comment)")
        }
        return keys
    }

    /// Reads the file again and takes its keys: new connections and
    /// requests are checked against them at once.
    ///
    /// A node serving with this list calls it when the file changes or the
    /// process gets `SIGHUP`; call it after changing the file otherwise.
    ///
    /// - Returns: whether the keys changed; false, without reading anything,
    ///   for a list given in code.
    /// - Throws: ``ConfigurationError/Code/invalidKey`` if the file cannot be
    ///   read or a line is not valid. The list then keeps the keys it had: a
    ///   half-written or broken file locks no one out and lets no one in.
    @discardableResult
    public func reload() throws(ConfigurationError) -> Bool {
        guard let path else { return false }
        let (keys, file) = try Self.read(path)
        let changed = state.withLock { state in
            state.file = file
            guard state.keys != keys else { return false }
            state.keys = keys
            return true
        }
        if changed { noteChanged() }
        return changed
    }

    /// Until cancelled, reloads the list when its file changes (checked every
    /// `interval` on `clock`; a change is applied once the file stayed the
    /// same for an interval) and at once when the process gets `SIGHUP`. Returns at
    /// once for a list given in code.
    ///
    /// A node runs it in a task while it serves. Reloads run one at a time,
    /// in this task, so two of them never race to install their keys. A
    /// failed reload is logged once per change of the file, not every
    /// `interval`.
    func watch(every interval: Duration, clock: any Clock<Duration>, logger: Logger) async {
        guard let path else { return }
        let hangups = await UnixSignalsSequence(trapping: .sighup)
        guard !Task.isCancelled else { return }
        var logger = logger
        logger[metadataKey: "cort.allowList.path"] = "\(path)"
        logger.debug("watching the caller allow-list", metadata: ["cort.allowList.interval": "\(interval)"])

        enum Trigger { case tick, hangup }
        let (triggers, trigger) = AsyncStream.makeStream(of: Trigger.self, bufferingPolicy: .bufferingNewest(4))
        var seen = state.withLock { $0.file }
        // A change is applied once the file stayed the same for a whole
        // interval: an editor writing in place may be caught mid-write (even
        // empty), and applying that would lock out every caller for a while.
        var changing: FileIdentity?? = .none
        await withDiscardingTaskGroup { group in
            group.addTask {
                for await _ in hangups { trigger.yield(.hangup) }
            }
            group.addTask {
                while (try? await clock.sleep(for: interval)) != nil {
                    trigger.yield(.tick)
                }
            }
            // Ends when the task is cancelled (an AsyncStream finishes then).
            for await event in triggers {
                // A file that cannot be stat'ed (gone while replaced, say)
                // has no identity: it is reloaded, and fails, once.
                let current = try? Self.identity(of: path)
                if event == .tick {
                    if current == seen {
                        changing = .none
                        continue
                    }
                    guard case .some(let pending) = changing, pending == current else {
                        changing = .some(current)
                        continue
                    }
                }
                changing = nil
                seen = current
                reload(logging: logger, trigger: event == .hangup ? "SIGHUP" : "file changed")
            }
            group.cancelAll()
        }
        trigger.finish()
    }

    private func reload(logging logger: Logger, trigger: String) {
        do {
            let changed = try reload()
            logger.notice("reloaded the caller allow-list", metadata: [
                "cort.allowList.keys": "\(keys.count)",
                "cort.allowList.changed": "\(changed)",
                "cort.allowList.trigger": "\(trigger)",
            ])
        } catch {
            logger.error("cannot reload the caller allow-list; it keeps the keys it had", metadata: [
                "cort.allowList.keys": "\(keys.count)",
                "cort.allowList.trigger": "\(trigger)",
                "cort.error": "\(error.message)",
            ])
        }
    }

    /// The keys in the file at `path` and what identified the file just
    /// before they were read: a change during the read then shows as a
    /// change at the next check, rather than being missed.
    static func read(_ path: String) throws(ConfigurationError) -> (Set<CurveKey>, FileIdentity) {
        let file = try identity(of: path)
        let keys = try parse(try KeyFileSyntax.read(path), source: path)
        return (keys, file)
    }

    /// What `stat(2)` says of the file at `path`.
    static func identity(of path: String) throws(ConfigurationError) -> FileIdentity {
        var info = stat()
        guard stat(path, &info) == 0 else {
            let code = errno
            throw ConfigurationError(.invalidKey, "cannot read \(path): \(String(cString: strerror(code)))")
        }
        #if canImport(Darwin)
        let modified = info.st_mtimespec
        #else
        let modified = info.st_mtim
        #endif
        return FileIdentity(
            device: UInt64(truncatingIfNeeded: info.st_dev),
            inode: UInt64(truncatingIfNeeded: info.st_ino),
            size: Int64(info.st_size),
            modifiedNanoseconds: Int64(modified.tv_sec) * 1_000_000_000 + Int64(modified.tv_nsec))
    }
}
