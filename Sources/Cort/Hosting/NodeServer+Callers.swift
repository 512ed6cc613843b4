import CortZeroMQ

extension NodeServer {
    /// Applies the connection events libzmq reported, until the reactor stops.
    func watchConnections() async {
        var appliedSinceYield = 0
        while true {
            let message: ZeroMQMessage
            do {
                message = try await connectionEvents.receive()
            } catch {
                return
            }
            apply(message)
            appliedSinceYield += 1
            if appliedSinceYield == Self.framesPerTurn {
                // Peers that open and close connections fast must not hold the reactor either.
                appliedSinceYield = 0
                await reactor.yieldTurn(isolation: self)
            }
        }
    }

    /// Applies every connection event queued now, without waiting. Called
    /// before each frame read: the monitor is asked only when its
    /// descriptor signals (one `poll(2)`, not libzmq's check of the socket).
    func applyConnectionEvents() {
        // Bounded: events are queued only as connections come and go.
        for _ in 0..<10_000 {
            guard let message = try? connectionEvents.tryReceiveIfSignalled() else { return }
            apply(message)
        }
    }

    private func apply(_ message: consuming ZeroMQMessage) {
        guard let event = try? MonitorEvent(message) else { return }
        let descriptor = Int32(bitPattern: event.value)
        if event.event == .accepted {
            epochs.accepted(descriptor)
        } else if event.event == .disconnected {
            let connection = epochs.disconnected(descriptor)
            if let peer = peers.ref(on: connection) { callerLeft(peer) }
        }
    }

    /// A caller's connection is gone: it died, closed, froze past the
    /// heartbeat timeout, or was cut off. Nobody reads its answers any
    /// more, so its waiting calls are dropped and its running ones cancelled.
    func callerLeft(_ peer: PeerTable.Ref) {
        guard let entry = peers[peer] else { return }
        if entry.callCount > 0 {
            counters.departedCallers += 1
            rateLimited.log(.debug, "caller-left", "a caller's connection dropped; its calls are stopped",
                            metadata: ["cort.caller": "\(CallerIdentity(routingID: entry.routingID))",
                                       "cort.calls": "\(entry.callCount)"], at: system.clock.now)
        }
        abandonCalls(of: peer, waitingOnly: false)
        peers.remove(peer)
    }

    /// Sends `envelope` to the caller `routingID`, within what the node lets
    /// wait for it; an answer it cannot hand over is dropped and counted.
    /// While finished calls are answered, a reply or error to a caller that
    /// reads batches goes in its batch (``AnswerBatches``) instead.
    func answer(_ envelope: Envelope, to routingID: [UInt8], peer: PeerTable.Ref?) {
        var envelope = envelope
        if allowList != nil, case .failure(let id, let failure) = envelope {
            // With security on, callers learn the code and a short message,
            // not this node's type names or the runtime's words.
            envelope = .failure(id: id, failure.redacted)
        }
        if case .failure = envelope { counters.errorAnswers += 1 }
        // No closure here (`peer.flatMap { peers[$0] }`): one that reads the
        // actor's state is checked to run on its executor, each call (about
        // 400 instructions a call, callgrind), and the whole entry was copied.
        var callerLedger: SendLedger?
        var notReading = false
        var readsBatches = false
        if let peer, let state = peers.answering(peer) {
            (callerLedger, notReading, readsBatches) = (state.ledger, state.notReading, state.readsBatches)
        }
        var bytes: [UInt8] = []
        if let peer, let callerLedger, readsBatches, !notReading, answerBatches.isGathering, envelope.isAnswer {
            answerBatches.scratch.removeAll(keepingCapacity: true)
            encodeAnswer(envelope, into: &answerBatches.scratch)
            if answerBatches.scratch.count <= WireBatchWriter.maxBytes / 2 {
                let cost = answerBatches.cost(ofGathering: peer)
                guard callerLedger.outstanding + answerBatches.bytes(for: peer) + cost <= nodeLimits.answerBytesPerCaller,
                      peers.totalLedger.outstanding + answerBatches.bytes + cost <= nodeLimits.answerBytes else {
                    return dropAnswer(for: peer, because: "the answers waiting for it are over the node's bound")
                }
                if let full = answerBatches.gather(for: peer, routingID: routingID) { send(full) }
                return
            }
            // Too large for a batch: it goes alone, as encoded.
            swap(&bytes, &answerBatches.scratch)
        } else {
            encodeAnswer(envelope, into: &bytes)
        }
        // Within the bounds with what is gathered and not sent yet, too.
        let gathered = peer.map { answerBatches.bytes(for: $0) } ?? 0
        if (callerLedger?.outstanding ?? 0) + gathered + bytes.count > nodeLimits.answerBytesPerCaller
            || peers.totalLedger.outstanding + answerBatches.bytes + bytes.count > nodeLimits.answerBytes {
            return dropAnswer(for: peer, because: "the answers waiting for it are over the node's bound")
        }
        hand(bytes, to: routingID, peer: peer, ledger: callerLedger, notReading: notReading, answers: 1)
    }

    /// Sends a caller's batch of answers (``AnswerBatches``).
    func send(_ batch: AnswerBatches.Closed) {
        var (ledger, notReading): (SendLedger?, Bool) = (nil, false)
        if let state = peers.answering(batch.peer) { (ledger, notReading) = (state.ledger, state.notReading) }
        hand(batch.frame, to: batch.routingID, peer: batch.peer, ledger: ledger, notReading: notReading,
             answers: batch.answers)
    }

    /// Appends the frame of `envelope`, or of a `messageTooLarge` error when
    /// it is an answer over the limit.
    private func encodeAnswer(_ envelope: Envelope, into bytes: inout [UInt8]) {
        let start = bytes.count
        WireCodec.encode(envelope, into: &bytes)
        if bytes.count - start > limits.maxEnvelopeBytes, envelope.isAnswerWithValue {
            // Symmetric limits: the caller would refuse it, so say why instead.
            bytes.removeSubrange(start...)
            let failure = CallFailure(
                code: .messageTooLarge,
                message: "the answer has more than the limit of \(limits.maxEnvelopeBytes) bytes")
            WireCodec.encode(.failure(id: envelope.id, allowList == nil ? failure : failure.redacted), into: &bytes)
        }
    }

    /// Hands a frame of `answers` answers to libzmq for `routingID`.
    private func hand(_ bytes: [UInt8], to routingID: [UInt8], peer: PeerTable.Ref?, ledger callerLedger: SendLedger?,
                      notReading: Bool, answers: Int) {
        var message = ZeroMQMessage(frameCapacity: 2)
        message.append(routingID)
        message.append(noCopy: bytes, countedIn: callerLedger ?? peers.totalLedger)
        do {
            if try socket.trySend(&message) {
                // It reads again once its queue has room and its backlog is
                // down to half its budget (a small refusal fitting in is not enough).
                if notReading, let callerLedger, let peer,
                   callerLedger.outstanding < nodeLimits.answerBytesPerCaller / 2 {
                    peers.setNotReading(false, for: peer)
                }
                return
            }
            dropAnswer(for: peer, because: "its queue in libzmq is full", answers: answers)
        } catch {
            // hostUnreachable: the caller's connection is gone (the monitor
            // reports it, and its calls are stopped); nobody reads this.
            counters.droppedAnswers += answers
            rateLimited.log(.debug, "answer-unroutable", "an answer could not be sent",
                            metadata: ["cort.error": "\(error)"], at: system.clock.now)
        }
    }

    /// A caller does not read its answers: drop this one and its waiting
    /// calls (their answers would wait unread too); refuse its new calls
    /// until an answer goes through again.
    private func dropAnswer(for peer: PeerTable.Ref?, because reason: String, answers: Int = 1) {
        counters.droppedAnswers += answers
        rateLimited.log(.warning, "answer-dropped", "a caller does not read its answers; dropping them",
                        metadata: ["cort.reason": "\(reason)"], at: system.clock.now)
        guard let peer, peers[peer]?.notReading == false else { return }
        peers.setNotReading(true, for: peer)
        abandonCalls(of: peer, waitingOnly: true)
    }
}
