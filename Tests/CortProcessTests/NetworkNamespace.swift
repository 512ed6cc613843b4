import Foundation
import Subprocess

/// A network namespace a test made for itself, joined to the test's own
/// namespace by a veth pair, so that a test can cut the nodes inside off the
/// network the way a failed switch or cable does: packets just vanish, and no
/// FIN, RST or ICMP error reaches either side.
///
/// ```
///   test process (caller)                       the namespace (nodes)
///   cpt<id>h  10.231.y.(4k+1)/30  ══ veth ══  cpt<id>n  10.231.y.(4k+2)/30
/// ```
///
/// ``cut()`` sets the namespace's end down. The test's end then loses its
/// carrier but keeps its route and its permanent neighbour entry, so what the
/// caller sends (data, SYNs) is dropped at the link (counted in
/// ``Statistics/transmitDropped``) instead of failing with "no route to host"
/// (setting the test's end down would remove its route: connects would fail
/// at once with ENETUNREACH, which is not a partition). Neighbours are
/// permanent on both ends, so no ARP failure turns the silence into an
/// EHOSTUNREACH either. The caller's kernel does see its packets dropped at
/// its own link; on Linux 6.18 that changed nothing measured (SYNs resent 1 s
/// apart, as through a router namespace cut beyond its first hop).
///
/// Making one needs root and `ip` (iproute2): see ``isAvailable``. The /30 is
/// picked at random in 10.231.0.0/16 among the /24s this machine has no
/// address or route in; names carry this process's id, so a later run
/// deletes what a crashed run left behind.
///
/// ```swift
/// try await NetworkNamespace.with { namespace in
///     let node = try await NodeProcess.start(name: "n", in: folder, namespace: namespace)  // serves on namespace.address
///     try await namespace.cut()      // from now on, every packet either way vanishes
///     try await namespace.restore()
///     await node.stop()
/// }
/// ```
struct NetworkNamespace: Sendable {
    /// Packet counters of the test's end of the veth pair (`/sys/class/net/<if>/statistics`).
    struct Statistics: Sendable, Equatable, CustomStringConvertible {
        var receivedPackets: Int
        var transmittedPackets: Int
        /// Packets the test's side tried to send that the link dropped.
        var transmitDropped: Int

        var description: String {
            "rx \(receivedPackets), tx \(transmittedPackets), tx dropped \(transmitDropped)"
        }
    }

    /// The namespace's name (`cort-pt-<pid>-<id>`).
    let name: String
    /// The veth end in the test's namespace (`cpt<id>h`).
    let hostInterface: String
    /// The veth end inside the namespace (`cpt<id>n`).
    let innerInterface: String
    /// The test's address on the link.
    let hostAddress: String
    /// The address inside the namespace, where nodes serve.
    let address: String

    private static let prefix = "cort-pt-"

    /// `ip`, if this machine has it.
    static let ipPath: String? = ["/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip", "/bin/ip"].first {
        FileManager.default.isExecutableFile(atPath: $0)
    }

    /// Whether this process may make namespaces: it runs as root and has `ip`.
    static var isAvailable: Bool { geteuid() == 0 && ipPath != nil }

    /// Makes a namespace, runs `body` with it, and deletes the namespace and
    /// its veth pair whether `body` threw or not. Stop the processes started
    /// inside before `body` returns.
    static func with<R>(_ body: (NetworkNamespace) async throws -> R) async throws -> R {
        await removeLeftovers()
        let namespace = try await create()
        let result: R
        do {
            result = try await body(namespace)
        } catch {
            await namespace.delete()
            throw error
        }
        await namespace.delete()
        return result
    }

    // MARK: Making and deleting

    private static func create() async throws -> NetworkNamespace {
        let id = String(UInt32.random(in: 0...UInt32.max), radix: 16)
        let (third, base) = try await freeSubnet()
        let namespace = NetworkNamespace(
            name: "\(prefix)\(getpid())-\(id)", hostInterface: "cpt\(id)h", innerInterface: "cpt\(id)n",
            hostAddress: "10.231.\(third).\(base + 1)", address: "10.231.\(third).\(base + 2)")
        do {
            try await namespace.configure()
        } catch {
            await namespace.delete()
            throw error
        }
        return namespace
    }

    private func configure() async throws {
        try await Self.ip("netns", "add", name)
        try await Self.ip("link", "add", hostInterface, "type", "veth", "peer", "name", innerInterface)
        try await Self.ip("link", "set", innerInterface, "netns", name)
        try await Self.ip("addr", "add", "\(hostAddress)/30", "dev", hostInterface)
        try await Self.ip("-n", name, "addr", "add", "\(address)/30", "dev", innerInterface)
        try await Self.ip("-n", name, "link", "set", "lo", "up")
        try await Self.ip("link", "set", hostInterface, "up")
        try await Self.ip("-n", name, "link", "set", innerInterface, "up")
        try await setNeighbours()
    }

    /// Permanent neighbour entries on both ends: a cut link then never turns
    /// into an ARP failure (and an EHOSTUNREACH to a connect or a send).
    private func setNeighbours() async throws {
        let hostMAC = try await Self.mac(of: hostInterface, in: nil)
        let innerMAC = try await Self.mac(of: innerInterface, in: name)
        try await Self.ip("neigh", "replace", address, "lladdr", innerMAC, "dev", hostInterface, "nud", "permanent")
        try await Self.ip("-n", name, "neigh", "replace", hostAddress, "lladdr", hostMAC, "dev", innerInterface,
                          "nud", "permanent")
    }

    /// Deletes the veth pair and the namespace; reports (does not throw)
    /// what it could not delete.
    func delete() async {
        // Deleting one end deletes both; the namespace may outlive its bind
        // mount while a process still runs in it, but not its link.
        _ = try? await Self.ip("link", "del", hostInterface)
        do {
            try await Self.ip("netns", "del", name)
        } catch {
            print("could not delete network namespace \(name): \(error)")
        }
    }

    /// Deletes the namespaces (and veth pairs) of earlier runs whose process is gone.
    private static func removeLeftovers() async {
        guard let list = try? await ip("netns", "list") else { return }
        for line in list.split(separator: "\n") {
            let name = String(line.split(separator: " ").first ?? "")
            guard name.hasPrefix(prefix) else { continue }
            let parts = name.dropFirst(prefix.count).split(separator: "-")
            guard parts.count == 2, let pid = Int32(parts[0]), kill(pid, 0) != 0, errno == ESRCH else { continue }
            _ = try? await ip("link", "del", "cpt\(parts[1])h")
            _ = try? await ip("netns", "del", name)
        }
    }

    /// The /30 `10.231.<third>.<base>`, in a /24 where this machine has no
    /// address and no route.
    private static func freeSubnet() async throws -> (third: Int, base: Int) {
        let used = try await ip("-4", "-o", "addr", "show") + (try await ip("-4", "route", "show", "table", "all"))
        for _ in 0..<64 {
            let third = Int.random(in: 0...255)
            guard !used.contains("10.231.\(third).") else { continue }
            return (third, 4 * Int.random(in: 0...63))
        }
        throw ProcessTestFailure("no free /24 in 10.231.0.0/16 after 64 tries")
    }

    // MARK: The link

    /// Takes the link down at the namespace's end: from now on every packet
    /// either side sends vanishes.
    func cut() async throws {
        try await Self.ip("-n", name, "link", "set", innerInterface, "down")
    }

    /// Brings the link back up (setting an interface down flushes its
    /// neighbour entries, so the namespace's is set again).
    func restore() async throws {
        try await Self.ip("-n", name, "link", "set", innerInterface, "up")
        let hostMAC = try await Self.mac(of: hostInterface, in: nil)
        try await Self.ip("-n", name, "neigh", "replace", hostAddress, "lladdr", hostMAC, "dev", innerInterface,
                          "nud", "permanent")
    }

    /// The counters of the test's end of the link.
    func statistics() throws -> Statistics {
        func counter(_ name: String) throws -> Int {
            let path = "/sys/class/net/\(hostInterface)/statistics/\(name)"
            let text = try String(contentsOfFile: path, encoding: .utf8)
            guard let value = Int(text.trimmingCharacters(in: .whitespacesAndNewlines)) else {
                throw ProcessTestFailure("\(path) holds \"\(text)\", not a number")
            }
            return value
        }
        return Statistics(receivedPackets: try counter("rx_packets"), transmittedPackets: try counter("tx_packets"),
                          transmitDropped: try counter("tx_dropped"))
    }

    /// Whether the test's end of the link has a carrier (the namespace's end is up).
    func hasCarrier() throws -> Bool {
        try String(contentsOfFile: "/sys/class/net/\(hostInterface)/carrier", encoding: .utf8)
            .trimmingCharacters(in: .whitespacesAndNewlines) == "1"
    }

    /// The command that runs `arguments` inside the namespace (`ip netns exec`).
    func command(_ executable: String, _ arguments: [String]) throws -> (executable: URL, arguments: [String]) {
        guard let ip = Self.ipPath else { throw ProcessTestFailure("ip (iproute2) is missing") }
        return (URL(fileURLWithPath: ip), ["netns", "exec", name, executable] + arguments)
    }

    // MARK: Running ip

    private static func mac(of interface: String, in namespace: String?) async throws -> String {
        let output = try await ip((namespace.map { ["-n", $0] } ?? []) + ["-br", "link", "show", "dev", interface])
        let fields = output.split(separator: " ", omittingEmptySubsequences: true)
        guard fields.count >= 3, fields[2].split(separator: ":").count == 6 else {
            throw ProcessTestFailure("no MAC address for \(interface) in \"\(output)\"")
        }
        return String(fields[2])
    }

    @discardableResult
    private static func ip(_ arguments: String...) async throws -> String {
        try await ip(arguments)
    }

    /// Runs `ip` with `arguments` and returns its standard output; throws
    /// with its standard error when it fails or takes more than 10 s (it is
    /// then killed).
    @discardableResult
    private static func ip(_ arguments: [String]) async throws -> String {
        guard let ipPath else { throw ProcessTestFailure("ip (iproute2) is missing") }
        let command = "ip " + arguments.joined(separator: " ")
        // A run still going at the deadline is cancelled, which kills its `ip`.
        let outcome = try await withDeadline(.seconds(10)) { () -> Result<String, ProcessTestFailure> in
            do {
                let result = try await Subprocess.run(
                    .path(.init(ipPath)), arguments: Arguments(arguments),
                    output: .string(limit: 1 << 20), error: .string(limit: 1 << 16))
                guard case .exited(0) = result.terminationStatus else {
                    return .failure(ProcessTestFailure(
                        "\(command) failed (\(result.terminationStatus)): \(result.standardError)"))
                }
                return .success(result.standardOutput)
            } catch {
                return .failure(ProcessTestFailure("\(command) could not run: \(error)"))
            }
        }
        guard let outcome else { throw ProcessTestFailure("\(command) took more than 10 s") }
        return try outcome.get()
    }
}
