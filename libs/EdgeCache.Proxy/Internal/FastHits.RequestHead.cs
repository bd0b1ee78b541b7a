using System.Text;
using EdgeCache.Engine;
using Microsoft.AspNetCore.Http;

namespace EdgeCache.Proxy.Internal;

internal sealed partial class FastHits
{
    /// <summary>A request head the fast path can answer: <c>GET</c> or <c>HEAD</c>, origin-form target,
    /// HTTP/1.1, one plain Host, and no field that changes what a hit returns or how the request is framed.</summary>
    internal ref struct RequestHead
    {
        /// <summary>How many times the field <paramref name="name"/> occurs in a head <see cref="TryParse"/>
        /// accepted, and the (trimmed) value of its first occurrence.</summary>
        public static int FindField(ReadOnlySpan<byte> head, ReadOnlySpan<byte> name, out ReadOnlySpan<byte> value)
        {
            value = default;
            var found = 0;
            var rest = head[(head.IndexOf("\r\n"u8) + 2)..];
            while (rest.IndexOf("\r\n"u8) is > 0 and var eol)
            {
                var field = rest[..eol];
                rest = rest[(eol + 2)..];
                var colon = field.IndexOf((byte)':');
                if (colon != name.Length || !Ascii.EqualsIgnoreCase(field[..colon], name)) continue;
                if (found++ == 0) value = field[(colon + 1)..].Trim(" \t"u8);
            }

            return found;
        }

        /// <summary>An origin-form target (<c>/</c> then visible ASCII, no fragment) the fast path keys as it is.</summary>
        public static bool IsOriginForm(ReadOnlySpan<byte> target)
        {
            if (target.IsEmpty || target[0] != '/') return false;
            foreach (var b in target)
            {
                if (b is <= 0x20 or >= 0x7F or (byte)'#') return false;
            }

            return true;
        }

        public bool IsHead;

        /// <summary>The client sent <c>Connection: close</c>: the answer says so and the connection ends.</summary>
        public bool Close;
        public ReadOnlySpan<byte> Target;
        public ReadOnlySpan<byte> Host;

        /// <param name="head">The head, through the blank line that ends it.</param>
        public static bool TryParse(ReadOnlySpan<byte> head, out RequestHead request)
        {
            request = default;
            var lineEnd = head.IndexOf("\r\n"u8);
            if (lineEnd < 0) return false;
            var line = head[..lineEnd];
            if (line.StartsWith("GET "u8)) line = line[4..];
            else if (line.StartsWith("HEAD "u8))
            {
                line = line[5..];
                request.IsHead = true;
            }
            else
            {
                return false;
            }

            var space = line.IndexOf((byte)' ');
            if (space <= 0 || !line[(space + 1)..].SequenceEqual("HTTP/1.1"u8)) return false;
            var target = line[..space];
            if (!IsOriginForm(target)) return false;
            request.Target = target;
            var hosts = 0;
            var rest = head[(lineEnd + 2)..];
            for (var lines = 0; ; lines++)
            {
                var eol = rest.IndexOf("\r\n"u8);
                if (eol < 0 || lines > MaxHeaderLines) return false;
                if (eol == 0) break;
                var field = rest[..eol];
                rest = rest[(eol + 2)..];
                var colon = field.IndexOf((byte)':');
                if (colon <= 0) return false;
                var name = field[..colon];
                foreach (var b in name)
                {
                    if (!IsTokenChar(b)) return false;
                }

                var value = field[(colon + 1)..].Trim(" \t"u8);
                foreach (var b in value)
                {
                    if (b is (< 0x20 and not (byte)'\t') or >= 0x7F) return false;
                }

                switch (Classify(name, value))
                {
                    case Field.Close:
                        request.Close = true;
                        break;
                    case Field.Host:
                        if (++hosts > 1 || !IsPlainHost(value)) return false;
                        request.Host = value;
                        break;
                    case Field.Refused:
                        return false;
                }
            }

            return hosts == 1;
        }

        /// <summary>The head's fields as a header collection (for Vary), from a head <see cref="TryParse"/> accepted.</summary>
        public static HeaderDictionary Fields(ReadOnlySpan<byte> head)
        {
            var fields = new HeaderDictionary();
            var rest = head[(head.IndexOf("\r\n"u8) + 2)..];
            while (rest.IndexOf("\r\n"u8) is > 0 and var eol)
            {
                var field = rest[..eol];
                rest = rest[(eol + 2)..];
                var colon = field.IndexOf((byte)':');
                fields.Append(Encoding.ASCII.GetString(field[..colon]), Encoding.ASCII.GetString(field[(colon + 1)..].Trim(" \t"u8)));
            }

            return fields;
        }

        private enum Field
        {
            Other,
            Host,
            Close,
            Refused,
        }

        private static Field Classify(ReadOnlySpan<byte> name, ReadOnlySpan<byte> value)
        {
            if (Ascii.EqualsIgnoreCase(name, "Host"u8)) return Field.Host;
            if (Ascii.EqualsIgnoreCase(name, "Connection"u8))
            {
                return Ascii.EqualsIgnoreCase(value, "keep-alive"u8) ? Field.Other : Ascii.EqualsIgnoreCase(value, "close"u8) ? Field.Close : Field.Refused;
            }


            // What rules out a plain hit for cache reasons (HitDecision's list), and upgrades and body
            // framing, which guard against request smuggling: the full path decides these.
            if (name.Length >= ConditionalPrefix.Length && Ascii.EqualsIgnoreCase(name[..ConditionalPrefix.Length], ConditionalPrefix)) return Field.Refused;
            foreach (var refused in RefusedNames)
            {
                if (Ascii.EqualsIgnoreCase(name, refused)) return Field.Refused;
            }

            return Field.Other;
        }

        private static readonly byte[] ConditionalPrefix = Encoding.ASCII.GetBytes(HitDecision.ConditionalPrefix);

        private static readonly byte[][] RefusedNames =
        [
            .. HitDecision.PlainHitExclusions.Select(Encoding.ASCII.GetBytes),
            "Upgrade"u8.ToArray(), "Transfer-Encoding"u8.ToArray(), "Content-Length"u8.ToArray(), "Expect"u8.ToArray(),
            "HTTP2-Settings"u8.ToArray(), "Max-Forwards"u8.ToArray(),
        ];

        private static bool IsPlainHost(ReadOnlySpan<byte> host)
        {
            // reg-name or IPv4 with an optional port; IPv6 literals and anything odd go to Kestrel.
            if (host.IsEmpty) return false;
            var colon = host.IndexOf((byte)':');
            var name = colon < 0 ? host : host[..colon];
            if (name.IsEmpty) return false;
            foreach (var b in name)
            {
                if (!(char.IsAsciiLetterOrDigit((char)b) || b is (byte)'-' or (byte)'.')) return false;
            }

            if (colon < 0) return true;
            var port = host[(colon + 1)..];
            if (port.IsEmpty || port.Length > 5) return false;
            foreach (var b in port)
            {
                if (!char.IsAsciiDigit((char)b)) return false;
            }

            return true;
        }

        private static bool IsTokenChar(byte b) =>
            char.IsAsciiLetterOrDigit((char)b) || b is (byte)'!' or (byte)'#' or (byte)'$' or (byte)'%' or (byte)'&' or (byte)'\'' or (byte)'*'
                or (byte)'+' or (byte)'-' or (byte)'.' or (byte)'^' or (byte)'_' or (byte)'`' or (byte)'|' or (byte)'~';
    }
}
