package coldstarts

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// WriteText writes r as a heading and a table, one row per version:
//
//	/aws/lambda/galerly-api-prod since 2026-11-27 10:00:00 UTC (last 24h): 41 platform lines
//	VERSION  INVOCATIONS  COLD STARTS  INIT MS p50 / p90 / p99 / max      RESTORE MS p50 / p90 / p99 / max
//	6        12           2 (17%)      901.2 / 950.0 / 950.0 / 950.0      -
//	7        5            3 (60%)      -                                   310.4 / 402.9 / 402.9 / 402.9
func WriteText(w io.Writer, r Report) error {
	var b strings.Builder
	fmt.Fprintf(&b, "%s since %s (last %s): %s\n", r.LogGroup, r.Since.Format("2006-01-02 15:04:05 UTC"), window(r.Window), plural(r.PlatformLines, "platform line"))
	if len(r.Versions) == 0 {
		fmt.Fprintf(&b, "no REPORT or INIT_REPORT lines: the function was not invoked in that time, or its logs go to another group\n")
	} else {
		tw := tabwriter.NewWriter(&b, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "VERSION\tINVOCATIONS\tCOLD STARTS\tINIT MS p50 / p90 / p99 / max\tRESTORE MS p50 / p90 / p99 / max")
		for _, v := range r.Versions {
			fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\n", v.Version, v.Invocations, share(v.ColdStarts, v.Invocations), v.InitMS, v.RestoreMS)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	if r.Unattributed > 0 {
		fmt.Fprintf(&b, "not counted: %s in log streams not named YYYY/MM/DD/[VERSION]... (not written by Lambda)\n", plural(r.Unattributed, "platform line"))
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// String is the table cell: "901.2 / 950.0 / 950.0 / 950.0", or "-" for
// none.
func (p *Percentiles) String() string {
	if p == nil {
		return "-"
	}
	return strings.Join([]string{ms(p.P50), ms(p.P90), ms(p.P99), ms(p.Max)}, " / ")
}

func ms(v float64) string { return strconv.FormatFloat(v, 'f', 1, 64) }

// share is "3 (60%)": cold starts and their share of the invocations.
func share(n, of int) string {
	if of == 0 {
		return strconv.Itoa(n)
	}
	return fmt.Sprintf("%d (%d%%)", n, (n*100+of/2)/of)
}

// window prints a duration as it would be typed: 24h, 1h30m, 7d.
func window(d time.Duration) string {
	if d >= 48*time.Hour && d%(24*time.Hour) == 0 {
		return strconv.FormatInt(int64(d/(24*time.Hour)), 10) + "d"
	}
	s := d.String()
	s = strings.Replace(s, "m0s", "m", 1)
	s = strings.Replace(s, "h0m", "h", 1)
	return s
}

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return strconv.Itoa(n) + " " + word + "s"
}
