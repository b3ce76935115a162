package main

import (
	"math"
	"os"
	"slices"
	"strconv"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

// chart draws, for S3 and for the local disk, every contender's median
// relative to this library's (this library = 1, higher is better whatever
// the unit) on a log scale, one column per table of the report.
func (b *bench) chart(file string) error {
	var plots [][]*plot.Plot
	for _, kind := range []string{"S3", "local"} {
		var figs []*figure
		for _, f := range b.figures {
			if f.Kind == kind {
				figs = append(figs, f)
			}
		}
		if len(figs) == 0 {
			continue
		}
		plots = append(plots, []*plot.Plot{kindPlot(kind, figs)})
	}
	if len(plots) == 0 {
		return nil // nothing measured on S3 or local disk (e.g. -only tune)
	}
	img := vgimg.New(13*vg.Inch, vg.Length(len(plots))*5.5*vg.Inch)
	dc := draw.New(img)
	tiles := draw.Tiles{Rows: len(plots), Cols: 1, PadTop: vg.Centimeter / 2, PadBottom: vg.Centimeter / 2,
		PadLeft: vg.Centimeter / 2, PadRight: vg.Centimeter / 2, PadY: vg.Centimeter}
	canvases := plot.Align(plots, tiles, dc)
	for i := range plots {
		plots[i][0].Draw(canvases[i][0])
	}
	f, err := os.Create(file)
	if err != nil {
		return err
	}
	if _, err := (vgimg.PngCanvas{Canvas: img}).WriteTo(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func kindPlot(kind string, figs []*figure) *plot.Plot {
	p := plot.New()
	p.Title.Text = map[string]string{"S3": "S3 (MinIO): each contender relative to storage.S3",
		"local": "Local disk: each contender relative to storage.Local"}[kind]
	p.Y.Label.Text = "relative performance (this library = 1, higher is better)"
	p.Y.Scale = plot.LogScale{}
	p.Y.Tick.Marker = ratioTicks{}
	p.Legend.Top = true
	p.Legend.Left = true

	var names []string // every other contender, in order of appearance
	for _, f := range figs {
		for _, n := range f.Names {
			if n != f.Ours && !slices.Contains(names, n) {
				names = append(names, n)
			}
		}
	}
	lo, hi := 1.0, 1.0
	for ci, name := range names {
		var pts plotter.XYs
		for fi, f := range figs {
			if !slices.Contains(f.Names, name) {
				continue
			}
			// Spread the contenders of one column a little, so that
			// equal values stay visible.
			x := float64(fi) + (float64(ci)-float64(len(names)-1)/2)*0.12
			y := f.better(name)
			if y <= 0 {
				continue
			}
			pts = append(pts, plotter.XY{X: x, Y: y})
			lo, hi = min(lo, y), max(hi, y)
		}
		s, err := plotter.NewScatter(pts)
		if err != nil {
			continue
		}
		s.GlyphStyle.Color = plotutil.Color(ci + 1)
		s.GlyphStyle.Shape = plotutil.Shape(ci)
		s.GlyphStyle.Radius = vg.Points(4)
		p.Add(s)
		p.Legend.Add(name, s)
	}
	one, _ := plotter.NewLine(plotter.XYs{{X: -0.5, Y: 1}, {X: float64(len(figs)) - 0.5, Y: 1}})
	one.Color = plotutil.Color(0)
	one.Width = vg.Points(1.5)
	p.Add(one)
	p.Legend.Add("this library = 1", one)
	p.Add(plotter.NewGrid())

	p.Y.Min = math.Pow(10, math.Floor(math.Log10(lo)*2)/2) // half-decade margins
	p.Y.Max = math.Pow(10, math.Ceil(math.Log10(hi)*2)/2+0.5)
	labels := make([]string, len(figs))
	for i, f := range figs {
		labels[i] = shortLabel(f.Title)
	}
	p.NominalX(labels...)
	p.X.Tick.Label.Rotation = math.Pi / 6
	p.X.Tick.Label.XAlign = draw.XRight
	p.X.Tick.Label.YAlign = draw.YCenter
	return p
}

// ratioTicks labels 1, 2 and 5 times each power of ten, which a ratio
// axis needs more than LogTicks' powers of ten alone.
type ratioTicks struct{}

func (ratioTicks) Ticks(lo, hi float64) []plot.Tick {
	var ticks []plot.Tick
	for e := math.Floor(math.Log10(lo)); e <= math.Ceil(math.Log10(hi)); e++ {
		for _, m := range []float64{1, 2, 5} {
			v := m * math.Pow(10, e)
			if v >= lo*0.999 && v <= hi*1.001 {
				ticks = append(ticks, plot.Tick{Value: v, Label: strconv.FormatFloat(v, 'g', -1, 64)})
			}
		}
	}
	return ticks
}

// shortLabel shortens a table's title for the chart's axis.
func shortLabel(title string) string {
	r := strings.NewReplacer(": client CPU time per operation", " CPU", " round trip added", " RTT", ", concurrency ", " c", " upload of unknown size: peak memory (RSS of the whole process)", " unsized: memory",
		" upload of unknown size", " unsized: MB/s", " KiB", "K", " MiB", "M", " GiB", "G", " of 10000 keys", " 10k", " of 1000 keys", " 1k")
	return r.Replace(title)
}
