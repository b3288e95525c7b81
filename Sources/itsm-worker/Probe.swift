import ArgumentParser
import AsyncHTTPClient
import NIOCore
import NIOHTTP1

/// For container health checks (the image has no curl): GET a URL, exit 0 on 200.
struct Probe: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "GET a URL (e.g. http://127.0.0.1:9464/readyz); exit 0 when it answers 200.")

    @Argument(help: "The URL to check.") var url: String

    func run() async throws {
        // A one-shot GET needs one thread, not one per core.
        EventLoopExecutor.install(loops: 1)
        let client = HTTPClient(eventLoopGroupProvider: .singleton)
        do {
            let response = try await client.execute(HTTPClientRequest(url: url), timeout: .seconds(5))
            try await client.shutdown()
            guard response.status.code == 200 else { throw fail("\(url) answered \(response.status.code)") }
        } catch let exit as ExitCode {
            throw exit
        } catch {
            try? await client.shutdown()
            throw fail("\(url): \(error)")
        }
    }
}
