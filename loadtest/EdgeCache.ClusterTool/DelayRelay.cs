using System.Buffers.Binary;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Threading.Channels;

namespace EdgeCache.ClusterTool;

/// <summary>
/// A transparent TCP relay that delays every byte it forwards by a fixed time, each way. A
/// namespace's nftables rule redirects its outgoing connections to other hosts here (DNAT); the
/// relay reads the original destination from conntrack (<c>SO_ORIGINAL_DST</c>), connects to it
/// with a socket mark the rule skips, and forwards both ways through a queue that holds each
/// chunk until its due time, so throughput is not cut to one chunk per delay.
/// </summary>
internal sealed class DelayRelay(IPEndPoint listen, TimeSpan delay, int mark)
{
    private const int SolIp = 0;
    private const int SoOriginalDst = 80;
    private const int SolSocket = 1;
    private const int SoMark = 36;
    private long _connections;

    public async Task RunAsync(CancellationToken stop)
    {
        using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
        listener.Bind(listen);
        listener.Listen(512);
        Console.WriteLine($"relay: listening on {listen}, delay {delay.TotalMilliseconds} ms each way, mark {mark}");
        while (!stop.IsCancellationRequested)
        {
            Socket inbound;
            try
            {
                inbound = await listener.AcceptAsync(stop);
            }
            catch (OperationCanceledException)
            {
                break;
            }

            _ = HandleAsync(inbound, stop);
        }
    }

    private async Task HandleAsync(Socket inbound, CancellationToken stop)
    {
        using (inbound)
        {
            IPEndPoint target;
            try
            {
                target = OriginalDestination(inbound);
            }
            catch (SocketException ex)
            {
                Console.Error.WriteLine($"relay: no original destination ({ex.SocketErrorCode}); closing");
                return;
            }

            using var outbound = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            Span<byte> markBytes = stackalloc byte[4];
            BinaryPrimitives.WriteInt32LittleEndian(markBytes, mark);
            outbound.SetRawSocketOption(SolSocket, SoMark, markBytes);
            outbound.NoDelay = true;
            inbound.NoDelay = true;
            try
            {
                // The connection itself takes the delay too: a SYN crosses the link once each way.
                await Task.Delay(delay, stop);
                using var connectTimeout = CancellationTokenSource.CreateLinkedTokenSource(stop);
                connectTimeout.CancelAfter(TimeSpan.FromSeconds(10));
                await outbound.ConnectAsync(target, connectTimeout.Token);
                await Task.Delay(delay, stop);
            }
            catch (Exception ex) when (ex is SocketException or OperationCanceledException)
            {
                return; // the client sees its connection closed, as with a refused or dropped SYN
            }

            Interlocked.Increment(ref _connections);
            var up = PumpAsync(inbound, outbound, stop);
            var down = PumpAsync(outbound, inbound, stop);
            await Task.WhenAll(up, down);
        }
    }

    /// <summary>Reads from one side and writes each chunk to the other once it is <c>delay</c> old.</summary>
    private async Task PumpAsync(Socket from, Socket to, CancellationToken stop)
    {
        var queue = Channel.CreateUnbounded<(long Due, byte[]? Chunk, int Length)>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = true });
        var writer = WriteAsync(queue.Reader, to, stop);
        try
        {
            while (true)
            {
                var buffer = new byte[16384];
                var n = await from.ReceiveAsync(buffer, SocketFlags.None, stop);
                var due = Stopwatch.GetTimestamp() + (long)(delay.TotalSeconds * Stopwatch.Frequency);
                if (n == 0)
                {
                    queue.Writer.TryWrite((due, null, 0)); // end of stream, passed on in order
                    break;
                }

                queue.Writer.TryWrite((due, buffer, n));
            }
        }
        catch (Exception ex) when (ex is SocketException or OperationCanceledException or ObjectDisposedException)
        {
            queue.Writer.TryWrite((0, null, -1)); // reset: pass it on at once
        }
        finally
        {
            queue.Writer.TryComplete();
        }

        await writer;
    }

    private static async Task WriteAsync(ChannelReader<(long Due, byte[]? Chunk, int Length)> queue, Socket to, CancellationToken stop)
    {
        try
        {
            await foreach (var (due, chunk, length) in queue.ReadAllAsync(stop))
            {
                if (length < 0)
                {
                    to.Close(0);
                    return;
                }

                var wait = Stopwatch.GetElapsedTime(Stopwatch.GetTimestamp(), due);
                if (wait > TimeSpan.Zero) await Task.Delay(wait, stop);
                if (chunk is null)
                {
                    to.Shutdown(SocketShutdown.Send);
                    return;
                }

                var sent = 0;
                while (sent < length) sent += await to.SendAsync(chunk.AsMemory(sent, length - sent), SocketFlags.None, stop);
            }
        }
        catch (Exception ex) when (ex is SocketException or OperationCanceledException or ObjectDisposedException)
        {
            try
            {
                to.Close(0);
            }
            catch (ObjectDisposedException)
            {
            }
        }
    }

    private static IPEndPoint OriginalDestination(Socket socket)
    {
        // struct sockaddr_in: family (2 bytes), port (big-endian), address (4 bytes), padding.
        Span<byte> sockaddr = stackalloc byte[16];
        var length = socket.GetRawSocketOption(SolIp, SoOriginalDst, sockaddr);
        if (length < 8) throw new SocketException((int)SocketError.AddressFamilyNotSupported);
        var port = BinaryPrimitives.ReadUInt16BigEndian(sockaddr[2..]);
        return new IPEndPoint(new IPAddress(sockaddr.Slice(4, 4)), port);
    }
}
