using System.Buffers;
using System.Diagnostics;
using System.IO.Pipelines;
using Microsoft.AspNetCore.Connections;

namespace EdgeCache.Proxy.Internal;

internal sealed partial class FastHits
{
    private sealed class GatedPipe(PipeReader input, PipeWriter output) : IDuplexPipe
    {
        public PipeReader Input => input;

        public PipeWriter Output => output;
    }

    /// <summary>
    /// The input Kestrel reads once a connection has left the fast loop. After the full path answered
    /// a request without a body (<see cref="RequestEnded"/>), Kestrel's next read is the start of the
    /// next request: while that request is a fast hit, the gate answers it itself, into the output pipe
    /// after Kestrel's own response; the first request it does not answer goes to Kestrel unread, as
    /// every read in between does.
    /// </summary>
    private sealed class BoundaryGate(Dependencies deps, ConnectionContext connection, PipeReader inner, PipeWriter output, Func<TimeSpan> keepAliveTimeout, bool tls) : PipeReader
    {
        private volatile bool _armed;

        public void Arm() => _armed = true;

        public override bool TryRead(out ReadResult result)
        {
            if (_armed)
            {
                // Kestrel then reads asynchronously, where the gate looks at the request first.
                result = default;
                return false;
            }

            return inner.TryRead(out result);
        }

        public override ValueTask<ReadResult> ReadAsync(CancellationToken cancellationToken = default) =>
            _armed ? ReadAtBoundaryAsync(cancellationToken) : inner.ReadAsync(cancellationToken);

        private async ValueTask<ReadResult> ReadAtBoundaryAsync(CancellationToken cancellationToken)
        {
            // Kestrel started its keep-alive timer when it began this read, and only a request it parses
            // resets it. So the gate answers for a quarter of the timeout at most, and never for more than
            // 1 s, then leaves a request to Kestrel (on a busy connection, one full-path hit per period),
            // which re-arms it after. Kestrel's timer therefore never runs more than that period ahead of the
            // client's real idle time: a client that pauses for less than the timeout minus the period is not
            // closed on (at half the timeout, a pause of just over half, 65 s by default, could be).
            var waitingSince = Stopwatch.GetTimestamp();
            var quarter = keepAliveTimeout() / 4;
            var limit = quarter < TimeSpan.FromSeconds(1) ? quarter : TimeSpan.FromSeconds(1);
            while (true)
            {
                var result = await inner.ReadAsync(cancellationToken).ConfigureAwait(false);
                if (result.IsCanceled || result.IsCompleted || Stopwatch.GetElapsedTime(waitingSince) >= limit
                    || !TryFind(deps, connection, result.Buffer, scratch: null, allowClose: false, out var consumed, out var hit, tls))
                {
                    _armed = false;
                    if (!result.IsCanceled && !result.IsCompleted && EarlyHintsFor(deps, connection, result.Buffer, tls) is { } hints)
                    {
                        // Kestrel has finished its previous response: its next one follows this 103.
                        output.Write(hints);
                        await output.FlushAsync(cancellationToken).ConfigureAwait(false);
                    }

                    return result;
                }

                inner.AdvanceTo(consumed);
                output.Write(hit.Wire.Fixed);
                output.Write(hit.Tail.Bytes);
                output.Write("\r\n"u8);
                if (!hit.IsHead)
                {
                    foreach (var part in hit.Wire.Body) output.Write(part);
                }

                await output.FlushAsync(cancellationToken).ConfigureAwait(false);
            }
        }

        public override void AdvanceTo(SequencePosition consumed) => inner.AdvanceTo(consumed);

        public override void AdvanceTo(SequencePosition consumed, SequencePosition examined) => inner.AdvanceTo(consumed, examined);

        public override void CancelPendingRead() => inner.CancelPendingRead();

        public override void Complete(Exception? exception = null) => inner.Complete(exception);
    }
}
