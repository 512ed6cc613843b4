import ArgumentParser
import Cort
import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// `cort keygen`: a fresh CURVE key pair, printed or written to `NAME.key`
/// and `NAME.pub`.
struct KeygenCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "keygen",
        abstract: "Make a fresh CURVE key pair for a node or a caller.",
        discussion: """
            With NAME, writes NAME.key (the secret key, mode 0600: keep it private) and \
            NAME.pub (the public key, for the peers that check it: a caller's .pub files, \
            concatenated, make a node's allow-list), and prints the public key. \
            Without NAME, prints both keys in the layout of libzmq's curve_keygen.
            """
    )

    @Argument(help: "Write the pair to NAME.key and NAME.pub instead of printing the secret key.")
    var name: String?

    @Option(help: ArgumentHelp("The folder for NAME.key and NAME.pub (default: the current folder).",
                               valueName: "dir"))
    var directory: String?

    @Flag(help: "Replace NAME.key and NAME.pub when they exist (a node using the old pair no longer matches its peers).")
    var force = false

    @Flag(help: """
        Print JSON: {"publicKey", "secretKey"} without NAME; \
        {"publicKey", "secretKeyFile", "publicKeyFile"} with NAME (the secret key stays in its file).
        """)
    var json = false

    func validate() throws {
        if let name {
            guard !name.isEmpty, !name.contains("/"), name != ".", name != ".." else {
                throw ValidationError("NAME is a file name without a folder: use --directory for the folder")
            }
        } else if directory != nil || force {
            throw ValidationError("--directory and --force apply only when writing files: give a NAME")
        }
    }

    func run() throws {
        let pair: CurveKeyPair
        do {
            pair = try CurveKeyPair.generate()
        } catch {
            throw failure("cannot make a key pair: \(error)")
        }
        guard let name else {
            if json {
                try printJSON(["publicKey": pair.publicKey.z85, "secretKey": pair.secretKey.z85])
            } else {
                print("== CURVE PUBLIC KEY ==\n\(pair.publicKey.z85)\n\n== CURVE SECRET KEY ==\n\(pair.secretKey.z85)")
            }
            return
        }
        let secretPath = path(of: name + ".key")
        let publicPath = path(of: name + ".pub")
        if !force {
            // Both checked before either is written, so a refused run writes nothing.
            for path in [secretPath, publicPath] where FileManager.default.fileExists(atPath: path) {
                throw failure("\(path) already exists: give another NAME, or --force to replace it")
            }
        }
        try create(secretPath, holding: pair.secretKeyFileText, mode: 0o600)
        do {
            try create(publicPath, holding: pair.publicKeyFileText, mode: 0o644)
        } catch {
            // A secret key without its public half would only confuse.
            if !force { unlink(secretPath) }
            throw error
        }
        if json {
            try printJSON(["publicKey": pair.publicKey.z85, "secretKeyFile": secretPath, "publicKeyFile": publicPath])
        } else {
            print("public key:      \(pair.publicKey.z85)")
            print("secret key file: \(secretPath) (mode 0600: keep it private)")
            print("public key file: \(publicPath)")
        }
    }

    private func path(of file: String) -> String {
        guard let directory else { return file }
        return directory.hasSuffix("/") ? directory + file : directory + "/" + file
    }

    /// Writes `text` to a new file at `path` with exactly `mode`. Without
    /// `--force` the file is created exclusively (an existing file, even one
    /// that appeared since the check, is never touched); with it, the text
    /// goes to a temporary file that is renamed over `path`, so the old file
    /// is replaced whole, and a secret key never sits in a file of a looser mode.
    private func create(_ path: String, holding text: String, mode: mode_t) throws {
        let target = force ? path + ".\(getpid()).tmp" : path
        let descriptor = open(target, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode)
        guard descriptor >= 0 else {
            let code = errno
            throw failure(code == EEXIST
                 ? "\(target) already exists: give another NAME, or --force to replace it"
                 : "cannot create \(target): \(String(cString: strerror(code)))")
        }
        var problem: String?
        // The umask may have taken bits off `mode`; set it exactly.
        if fchmod(descriptor, mode) != 0 {
            problem = "cannot set the mode of \(target): \(String(cString: strerror(errno)))"
        }
        let bytes = Array(text.utf8)
        var written = 0
        while problem == nil, written < bytes.count {
            let count = bytes[written...].withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                problem = "cannot write \(target): \(String(cString: strerror(errno)))"
            } else {
                written += count
            }
        }
        if problem == nil, fsync(descriptor) != 0 {
            problem = "cannot write \(target): \(String(cString: strerror(errno)))"
        }
        if close(descriptor) != 0, problem == nil {
            problem = "cannot write \(target): \(String(cString: strerror(errno)))"
        }
        if problem == nil, target != path, rename(target, path) != 0 {
            problem = "cannot replace \(path): \(String(cString: strerror(errno)))"
        }
        if let problem {
            unlink(target)
            throw failure(problem)
        }
    }

    private func printJSON(_ object: [String: String]) throws {
        let encoder = JSONEncoder()
        // Z85 has `/`: escaped, it would still parse but not read as the key.
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        print(String(decoding: try encoder.encode(object), as: UTF8.self))
    }

    /// Says why on standard error; thrown, it exits with status 1.
    private func failure(_ message: String) -> ExitCode {
        FileHandle.standardError.write(Data("cort keygen: \(message)\n".utf8))
        return .failure
    }
}
